package stackgen

import (
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// FileVolumeScript is the script of an oci stack that attaches, detaches,
// stops and starts with the OCI CLI; var.volume_command replaces it.
const FileVolumeScript = "oci-volumes.sh"

func hydrateName(volID string) string { return volID + "-hydrate" }

// ociLocals declares local.vmrep_flags (--socket only when set),
// local.volume_command (the stack's script unless var.volume_command is
// set) and local.server_flags (how vmrep reaches the replication server).
func ociLocals(main *hclwrite.Body) {
	l := main.AppendNewBlock("locals", nil).Body()
	l.SetAttributeRaw("vmrep_flags", socketFlags())
	script := tuple(str("sh"), hclwrite.TokensForFunctionCall("format", str("%s/"+FileVolumeScript), ref("path", "module")))
	l.SetAttributeRaw("volume_command", cond(
		append(hclwrite.TokensForFunctionCall("length", ref("var", "volume_command")), op(hclsyntax.TokenGreaterThan, ">")...),
		hclwrite.TokensForValue(cty.NumberIntVal(0)), ref("var", "volume_command"), script))
	l.SetAttributeRaw("server_flags", hclwrite.TokensForFunctionCall("concat",
		tuple(str("--to"), ref("var", "server_address"), str("--token-file"), ref("var", "server_token_file")),
		cond(append(ref("var", "server_ca_file"), op(hclsyntax.TokenEqualOp, "==")...), str(""), tuple(), tuple(str("--ca"), ref("var", "server_ca_file"))),
		cond(append(ref("var", "server_name"), op(hclsyntax.TokenEqualOp, "==")...), str(""), tuple(), tuple(str("--server-name"), ref("var", "server_name"))),
	))
	main.AppendNewline()
}

func op(t hclsyntax.TokenType, s string) hclwrite.Tokens {
	return hclwrite.Tokens{{Type: t, Bytes: []byte(s)}}
}

// cond is `left right ? yes : no`, left ending in its comparison operator.
func cond(left, right, yes, no hclwrite.Tokens) hclwrite.Tokens {
	var t hclwrite.Tokens
	t = append(t, left...)
	t = append(t, right...)
	t = append(t, op(hclsyntax.TokenQuestion, "?")...)
	t = append(t, yes...)
	t = append(t, op(hclsyntax.TokenColon, ":")...)
	t = append(t, no...)
	return t
}

// ociHydrate emits the hydration step of one volume: attach it to the
// replication server at its consistent device path, have the server write
// the snapshot's volume into it (vmrep replicate --materialize --device,
// run here against the server's TLS API), detach it. In a delta stack the
// boot volume is the instance's (stopped by then): it is detached from the
// instance first and attached back as its boot volume after. The trigger
// is the volume's manifest, so only a volume whose bytes changed is
// written again; after is the previous volume's step, so one volume is on
// the server at a time. It returns the step's address.
func ociHydrate(main *hclwrite.Body, p Plan, v Volume, device string, after hclwrite.Tokens) hclwrite.Tokens {
	h := main.AppendNewBlock("resource", []string{"terraform_data", hydrateName(v.ID)}).Body()
	h.SetAttributeValue("triggers_replace", cty.StringVal(v.Manifest))
	deps := []hclwrite.Tokens{ref(ociVolumeType(v), v.ID)}
	if after != nil {
		deps = append(deps, after)
	}
	dependsOn(h, deps)
	h.AppendNewline()
	env := []hclwrite.ObjectAttrTokens{
		{Name: hclwrite.TokensForIdentifier("VMREP_OCI_COMPARTMENT"), Value: ref("var", "compartment_ocid")},
		{Name: hclwrite.TokensForIdentifier("VMREP_OCI_AVAILABILITY_DOMAIN"), Value: ref("var", "availability_domain")},
	}
	volume := ociVolumeRef(v, "id")
	devPath := hclwrite.TokensForFunctionCall("format", str("%s/"+device), ref("var", "server_device_root"))
	bootOfInstance := p.Delta != nil && v.Role == RoleBoot
	if bootOfInstance {
		volumeStep(h, tuple(str("boot-detach"), ref("oci_core_instance", p.VGID, "id")), volume, env)
	}
	volumeStep(h, tuple(str("attach"), ref("var", "server_instance_ocid"), volume), devPath, env)
	prov := h.AppendNewBlock("provisioner", []string{"local-exec"}).Body()
	prov.SetAttributeRaw("interpreter", hclwrite.TokensForFunctionCall("concat",
		tuple(ref("var", "vmrep_bin")), ref("local", "vmrep_flags"),
		tuple(str("replicate"), str(p.snapRef())), ref("local", "server_flags"),
		tuple(str("--materialize"), str(p.VGID), str("--device"))))
	prov.SetAttributeRaw("command", hclwrite.TokensForFunctionCall("format", str(v.ID+"=%s"), devPath))
	volumeStep(h, tuple(str("detach"), ref("var", "server_instance_ocid")), volume, env)
	if bootOfInstance {
		volumeStep(h, tuple(str("boot-attach"), ref("oci_core_instance", p.VGID, "id")), volume, env)
	}
	main.AppendNewline()
	return ref("terraform_data", hydrateName(v.ID))
}

// volumeStep is a local-exec of local.volume_command: args, then last as
// the command local-exec appends.
func volumeStep(b *hclwrite.Body, args, last hclwrite.Tokens, env []hclwrite.ObjectAttrTokens) {
	prov := b.AppendNewBlock("provisioner", []string{"local-exec"}).Body()
	prov.SetAttributeRaw("interpreter", hclwrite.TokensForFunctionCall("concat", ref("local", "volume_command"), args))
	prov.SetAttributeRaw("command", last)
	prov.SetAttributeRaw("environment", hclwrite.TokensForObject(env))
}

func ociVariables(b *hclwrite.Body, p Plan) {
	req := func(name, desc string) { variable(b, name, desc, cty.NilVal) }
	req("region", "OCI region, e.g. eu-frankfurt-1.")
	req("compartment_ocid", "OCID of the compartment that holds every resource.")
	req("availability_domain", "Availability domain of the instance, its volumes and the replication server.")
	req("subnet_ocid", "OCID of the subnet of the instance's VNIC.")
	variable(b, "shape", "Instance shape.", cty.StringVal("VM.Standard.E4.Flex"))
	variable(b, "ocpus", "OCPUs of the flexible shape.", cty.NumberIntVal(1))
	variable(b, "memory_in_gbs", "Memory of the flexible shape, in GB.", cty.NumberIntVal(16))
	req("boot_seed_volume_ocid", "OCID of a boot volume in the availability domain that the boot volume is cloned from before the "+
		"replication server overwrites it (OCI makes boot volumes only as copies); the server stack's output boot_volume_id.")
	req("server_address", "HOST:PORT of the replication server (the server stack's output address).")
	req("server_instance_ocid", "OCID of the replication server's instance (the server stack's output instance_id); volumes are attached to it to be written.")
	req("server_token_file", "File holding the replication server's bearer token.")
	variable(b, "server_ca_file", "PEM file of the CA of the server's certificate; empty for the system roots.", cty.StringVal(""))
	variable(b, "server_name", "Name to check in the server's certificate; empty for the host of server_address.", cty.StringVal(""))
	variable(b, "server_device_root", "vmrepd --device-root of the replication server: where attached volumes appear.", cty.StringVal("/dev/oracleoci"))
	variable(b, "vmrep_bin", "Path of the vmrep binary the provisioners run.", cty.StringVal("vmrep"))
	variable(b, "socket", "vmrep daemon socket of the source machine; empty for vmrep's default.", cty.StringVal(""))
	v := b.AppendNewBlock("variable", []string{"volume_command"}).Body()
	v.SetAttributeRaw("type", hclwrite.TokensForFunctionCall("list", hclwrite.TokensForIdentifier("string")))
	v.SetAttributeValue("description", cty.StringVal("Command that attaches, detaches, stops and starts (argv; a verb and its "+
		"arguments follow); empty for sh "+FileVolumeScript+" of this stack, which uses the OCI CLI."))
	v.SetAttributeRaw("default", tuple())
	b.AppendNewline()
}

func ociOutputs(b *hclwrite.Body, p Plan, boot Volume, data []Volume) {
	output(b, "instance_id", "OCID of the instance.", ref("oci_core_instance", p.VGID, "id"))
	output(b, "boot_volume_id", "OCID of the boot volume.", ociVolumeRef(boot, "id"))
	vols := make([]hclwrite.ObjectAttrTokens, len(data))
	for i, v := range data {
		vols[i] = hclwrite.ObjectAttrTokens{Name: str(v.ID), Value: ref("oci_core_volume", v.ID, "id")}
	}
	output(b, "volume_ids", "OCID of each data volume, by vmrep volume ID.", hclwrite.TokensForObject(vols))
	output(b, "volume_group_id", "OCID of the volume group.", ref("oci_core_volume_group", p.VGID, "id"))
	output(b, "snapshot_id", "vmrep snapshot the stack replicates.", str(p.Snapshot.ID))
}
