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
  description = "Availability domain of the instance and its volumes."
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

variable "bucket" {
  type        = string
  description = "Object Storage bucket for the boot image and the deltas."
}

variable "namespace" {
  type        = string
  description = "Object Storage namespace of the bucket."
}

variable "boot_image_path" {
  type        = string
  description = "QCOW2 of the boot volume at web@1, made by `vmrep export web@1 --volume boot --format qcow2 -o boot.qcow2`."
}

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
  description = "Directory of the replica of VG web (vg-0123456789abcdef)."
}

