variable "region" {
  type        = string
  description = "OCI region, e.g. eu-frankfurt-1."
}

variable "compartment_ocid" {
  type        = string
  description = "OCID of the compartment that holds the server and its bucket."
}

variable "availability_domain" {
  type        = string
  description = "Availability domain of the instance."
}

variable "subnet_ocid" {
  type        = string
  description = "OCID of the subnet; its security list must admit TCP 7443 from the source."
}

variable "image_ocid" {
  type        = string
  description = "OCID of a Linux image with cloud-init and curl (Oracle Linux, Ubuntu)."
}

variable "namespace" {
  type        = string
  description = "Object Storage namespace of the tenancy (oci os ns get); it names the S3-compatible endpoint too."
}

variable "ssh_public_key" {
  type        = string
  description = "SSH public key of the instance's default user."
}

variable "vmrepd_url" {
  type        = string
  description = "HTTPS URL the instance downloads the vmrepd binary from."
}

variable "shape" {
  type        = string
  description = "Instance shape."
  default     = "VM.Standard.E4.Flex"
}

variable "ocpus" {
  type        = number
  description = "OCPUs of the flexible shape."
  default     = 2
}

variable "memory_in_gbs" {
  type        = number
  description = "Memory of the flexible shape, in GB."
  default     = 16
}

variable "token" {
  type        = string
  description = "Bearer token replication clients present (vmrep replicate --token-file)."
  sensitive   = true
}

variable "tls_cert_pem" {
  type        = string
  description = "PEM certificate of the replication listener."
  sensitive   = true
}

variable "tls_key_pem" {
  type        = string
  description = "PEM private key of the replication listener."
  sensitive   = true
}

variable "s3_access_key" {
  type        = string
  description = "Access key of a customer secret key (Identity > Users > Customer secret keys) of a user who may write the bucket; vmrepd reads it as VMREP_S3_ACCESS_KEY."
  sensitive   = true
}

variable "s3_secret_key" {
  type        = string
  description = "Secret of that customer secret key; vmrepd reads it as VMREP_S3_SECRET_KEY."
  sensitive   = true
}

