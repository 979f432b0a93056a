terraform {
  required_version = ">= 1.6.0"
  required_providers {
    vmrep = {
      source  = "vmrep.local/vmrep/vmrep"
      version = "0.1.0"
    }
  }
}
