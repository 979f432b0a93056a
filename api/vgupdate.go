package api

// UpdateVGRequest is the body of PATCH /v1/vgs/{name}: it changes a VG's
// capture settings. A nil field is left as it is; an empty hook command
// removes that hook.
type UpdateVGRequest struct {
	PreSnapshot  *string `json:"pre_snapshot,omitempty"`
	PostSnapshot *string `json:"post_snapshot,omitempty"`
	// HookTimeout bounds each hook ("60s"); "" or "0s" restores the default.
	HookTimeout *string `json:"hook_timeout,omitempty"`
	LVMSnapshot *bool   `json:"lvm_snapshot,omitempty"`
}
