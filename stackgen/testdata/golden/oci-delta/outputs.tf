output "instance_id" {
  description = "OCID of the instance."
  value       = oci_core_instance.vg-0123456789abcdef.id
}

output "boot_volume_id" {
  description = "OCID of the boot volume."
  value       = oci_core_boot_volume.vol-aaaaaaaaaaaaaaaa.id
}

output "volume_ids" {
  description = "OCID of each data volume, by vmrep volume ID."
  value = {
    "vol-bbbbbbbbbbbbbbbb" = oci_core_volume.vol-bbbbbbbbbbbbbbbb.id
    "vol-dddddddddddddddd" = oci_core_volume.vol-dddddddddddddddd.id
  }
}

output "volume_group_id" {
  description = "OCID of the volume group."
  value       = oci_core_volume_group.vg-0123456789abcdef.id
}

output "snapshot_id" {
  description = "vmrep snapshot the stack replicates."
  value       = "snap-2222222222222222"
}

