output "replica_dir" {
  description = "Directory of the replica."
  value       = var.replica_dir
}

output "snapshot_id" {
  description = "Snapshot the replica is at after apply."
  value       = terraform_data.snapshot.output
}

output "volume_ids" {
  description = "Volumes of the replica."
  value       = ["vol-aaaaaaaaaaaaaaaa", "vol-bbbbbbbbbbbbbbbb", "vol-dddddddddddddddd"]
}

