package stackgen

import (
	"fmt"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

func hydrateName(volID string) string  { return volID + "-hydrate" }
func deltaObjName(volID string) string { return volID + "-delta" }

// ociDataVolume emits a block volume, its hydration step, the delta object
// when the delta changes it, and its attachment to the instance.
//
// Hydration runs on the replication server, the machine that runs `tofu
// apply` and keeps the replica in var.replica_dir: the first stack runs
// `vmrep replica create` for the volume, a delta stack `vmrep delta apply`
// for each volume the delta changes. OCI_VOLUME_ID tells vmrep which block
// volume the replica volume backs. The attachment waits for hydration so the
// instance never sees a half-written volume.
func ociDataVolume(main *hclwrite.Body, p Plan, v Volume) error {
	gbs, err := ociGB("snapshot.volumes["+v.ID+"].size", v.Size)
	if err != nil {
		return err
	}
	vol := main.AppendNewBlock("resource", []string{"oci_core_volume", v.ID}).Body()
	vol.SetAttributeRaw("availability_domain", ref("var", "availability_domain"))
	vol.SetAttributeRaw("compartment_id", ref("var", "compartment_ocid"))
	vol.SetAttributeValue("display_name", cty.StringVal(p.VGName+"-"+v.Name))
	vol.SetAttributeValue("size_in_gbs", cty.NumberIntVal(gbs))
	vol.SetAttributeRaw("freeform_tags", volumeTags(p, v))
	main.AppendNewline()

	deps := []hclwrite.Tokens{ref("oci_core_volume", v.ID)}
	trigger := v.Manifest
	args := tuple(str("replica"), str("create"), str(p.snapRef()), str("--dir"), ref("var", "replica_dir"))
	if _, ok := p.changed(v.ID); ok {
		o := main.AppendNewBlock("resource", []string{"oci_objectstorage_object", deltaObjName(v.ID)}).Body()
		o.SetAttributeRaw("bucket", ref("var", "bucket"))
		o.SetAttributeRaw("namespace", ref("var", "namespace"))
		o.SetAttributeValue("object", cty.StringVal(fmt.Sprintf("vmrep/%s/%s/%s.vmdelta", p.VGID, p.Snapshot.ID, v.ID)))
		o.SetAttributeRaw("source", ref("var", "delta_file"))
		o.SetAttributeValue("content_type", cty.StringVal("application/octet-stream"))
		o.SetAttributeRaw("metadata", object("vmrep-vg", p.VGID, "vmrep-volume", v.ID,
			"vmrep-snapshot", p.Snapshot.ID, "vmrep-base-snapshot", p.Delta.BaseSnapshotID,
			"vmrep-manifest", v.Manifest, "vmrep-delta", p.Delta.Digest))
		main.AppendNewline()
		deps = append(deps, ref("oci_objectstorage_object", deltaObjName(v.ID)))
		trigger = p.Delta.Digest
		args = tuple(str("delta"), str("apply"), ref("var", "delta_file"), str("--replica"), ref("var", "replica_dir"))
	}

	h := main.AppendNewBlock("resource", []string{"terraform_data", hydrateName(v.ID)}).Body()
	h.SetAttributeValue("triggers_replace", cty.StringVal(trigger))
	dependsOn(h, deps)
	h.AppendNewline()
	vmrepExec(h, args, v.ID, []hclwrite.ObjectAttrTokens{
		{Name: hclwrite.TokensForIdentifier("OCI_VOLUME_ID"), Value: ref("oci_core_volume", v.ID, "id")},
	})
	main.AppendNewline()

	a := main.AppendNewBlock("resource", []string{"oci_core_volume_attachment", v.ID}).Body()
	a.SetAttributeValue("attachment_type", cty.StringVal("paravirtualized"))
	a.SetAttributeRaw("instance_id", ref("oci_core_instance", p.VGID, "id"))
	a.SetAttributeRaw("volume_id", ref("oci_core_volume", v.ID, "id"))
	// Attachments carry no tags in OCI; the display name names the volume.
	a.SetAttributeValue("display_name", cty.StringVal("vmrep "+p.VGID+" "+v.ID))
	dependsOn(a, []hclwrite.Tokens{ref("terraform_data", hydrateName(v.ID))})
	main.AppendNewline()
	return nil
}

func ociVariables(b *hclwrite.Body, p Plan) {
	req := func(name, desc string) { variable(b, name, desc, cty.NilVal) }
	req("region", "OCI region, e.g. eu-frankfurt-1.")
	req("compartment_ocid", "OCID of the compartment that holds every resource.")
	req("availability_domain", "Availability domain of the instance and its volumes.")
	req("subnet_ocid", "OCID of the subnet of the instance's VNIC.")
	variable(b, "shape", "Instance shape.", cty.StringVal("VM.Standard.E4.Flex"))
	variable(b, "ocpus", "OCPUs of the flexible shape.", cty.NumberIntVal(1))
	variable(b, "memory_in_gbs", "Memory of the flexible shape, in GB.", cty.NumberIntVal(16))
	req("bucket", "Object Storage bucket for the boot image and the deltas.")
	req("namespace", "Object Storage namespace of the bucket.")
	req("boot_image_path", "QCOW2 of the boot volume at "+p.snapRef()+
		", made by `vmrep export "+p.snapRef()+" --volume boot --format qcow2 -o boot.qcow2`.")
	commonVariables(b, p, cty.NilVal)
}

func ociOutputs(b *hclwrite.Body, p Plan, boot Volume, data []Volume) {
	output(b, "instance_id", "OCID of the instance.", ref("oci_core_instance", p.VGID, "id"))
	output(b, "image_id", "OCID of the boot image.", ref("oci_core_image", boot.ID, "id"))
	vols := make([]hclwrite.ObjectAttrTokens, len(data))
	for i, v := range data {
		vols[i] = hclwrite.ObjectAttrTokens{Name: str(v.ID), Value: ref("oci_core_volume", v.ID, "id")}
	}
	output(b, "volume_ids", "OCID of each data volume, by vmrep volume ID.", hclwrite.TokensForObject(vols))
	if len(data) > 0 {
		output(b, "volume_group_id", "OCID of the volume group.", ref("oci_core_volume_group", p.VGID, "id"))
	}
	output(b, "snapshot_id", "vmrep snapshot the stack replicates.", str(p.Snapshot.ID))
}
