output "address" {
  description = "HOST:PORT to give `vmrep replicate --to`."
  value       = format("%s:%d", oci_core_instance.server.public_ip, 7443)
}

output "private_address" {
  description = "HOST:PORT inside the VCN."
  value       = format("%s:%d", oci_core_instance.server.private_ip, 7443)
}

output "instance_id" {
  description = "OCID of the replication server's instance: a VG stack's server_instance_ocid."
  value       = oci_core_instance.server.id
}

output "boot_volume_id" {
  description = "OCID of the server's boot volume: a VG stack's boot_seed_volume_ocid (its boot volume starts as a clone of it)."
  value       = oci_core_instance.server.boot_volume_id
}

output "bucket" {
  description = "Object Storage bucket of the server's packs."
  value       = oci_objectstorage_bucket.packs.name
}

output "backend" {
  description = "vmrepd --backend of the server: its store in the bucket."
  value       = format("s3://%s/store?endpoint=%s.compat.objectstorage.%s.oraclecloud.com:443&region=%s", oci_objectstorage_bucket.packs.name, var.namespace, var.region, var.region)
}

