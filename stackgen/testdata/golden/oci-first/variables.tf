variable "region" {
  type        = string
  description = "OCI region, e.g. eu-frankfurt-1."
}

variable "compartment_ocid" {
  type        = string
  description = "OCID of the compartment that holds every resource."
}

variable "availability_domain" {
  type        = string
  description = "Availability domain of the instance, its volumes and the replication server."
}

variable "subnet_ocid" {
  type        = string
  description = "OCID of the subnet of the instance's VNIC."
}

variable "shape" {
  type        = string
  description = "Instance shape."
  default     = "VM.Standard.E4.Flex"
}

variable "ocpus" {
  type        = number
  description = "OCPUs of the flexible shape."
  default     = 1
}

variable "memory_in_gbs" {
  type        = number
  description = "Memory of the flexible shape, in GB."
  default     = 16
}

variable "boot_seed_volume_ocid" {
  type        = string
  description = "OCID of a boot volume in the availability domain that the boot volume is cloned from before the replication server overwrites it (OCI makes boot volumes only as copies); the server stack's output boot_volume_id."
}

variable "server_address" {
  type        = string
  description = "HOST:PORT of the replication server (the server stack's output address)."
}

variable "server_instance_ocid" {
  type        = string
  description = "OCID of the replication server's instance (the server stack's output instance_id); volumes are attached to it to be written."
}

variable "server_token_file" {
  type        = string
  description = "File holding the replication server's bearer token."
}

variable "server_ca_file" {
  type        = string
  description = "PEM file of the CA of the server's certificate; empty for the system roots."
  default     = ""
}

variable "server_name" {
  type        = string
  description = "Name to check in the server's certificate; empty for the host of server_address."
  default     = ""
}

variable "server_device_root" {
  type        = string
  description = "vmrepd --device-root of the replication server: where attached volumes appear."
  default     = "/dev/oracleoci"
}

variable "vmrep_bin" {
  type        = string
  description = "Path of the vmrep binary the provisioners run."
  default     = "vmrep"
}

variable "socket" {
  type        = string
  description = "vmrep daemon socket of the source machine; empty for vmrep's default."
  default     = ""
}

variable "volume_command" {
  type        = list(string)
  description = "Command that attaches, detaches, stops and starts (argv; a verb and its arguments follow); empty for sh oci-volumes.sh of this stack, which uses the OCI CLI."
  default     = []
}

