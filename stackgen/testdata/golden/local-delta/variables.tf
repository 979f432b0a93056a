variable "vmrep_bin" {
  type        = string
  description = "Path of the vmrep binary the provisioners run."
  default     = "vmrep"
}

variable "socket" {
  type        = string
  description = "vmrep daemon socket; empty for vmrep's default."
  default     = ""
}

variable "replica_dir" {
  type        = string
  description = "Directory of the replica of VG web (vg-0123456789abcdef); a relative path is from the stack directory."
  default     = "../replica-web"
}

variable "delta_file" {
  type        = string
  description = "The delta from snap-1111111111111111 to snap-2222222222222222 (digest eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee)."
  default     = "deltas/web-1-2.vmdelta"
}

variable "launch_test" {
  type        = bool
  description = "After apply, boot the replica on copy-on-write overlays (vmrep launch --test) and fail the apply when it does not reach readiness."
  default     = false
}

variable "launch_timeout" {
  type        = string
  description = "How long the test launch may take to readiness."
  default     = "300s"
}

