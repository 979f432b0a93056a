package stackgen

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

func TestServerGolden(t *testing.T) {
	files, err := GenerateServer(ServerStack{Name: "vmrep-repl", Port: 7443}, TargetOCI)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "golden", "oci-server")
	for name, got := range files {
		if strings.HasSuffix(name, ".tf") {
			parseBack(t, name, got)
		}
		checkGolden(t, dir, name, got)
	}
	for _, must := range []string{`"oci_core_instance" "server"`, `"oci_objectstorage_bucket" "packs"`, "sensitive", "templatefile"} {
		if !strings.Contains(string(files[FileMain])+string(files[FileVariables]), must) {
			t.Errorf("server stack lacks %s", must)
		}
	}
	ci := string(files[FileCloudInit])
	for _, must := range []string{"--listen 0.0.0.0:${port} --tls-cert", "--backend ${backend} ",
		"EnvironmentFile=/etc/vmrep/s3.env", "content: ${base64encode(s3_env)}"} {
		if !strings.Contains(ci, must) {
			t.Errorf("cloud-init lacks %q", must)
		}
	}
	main := string(files[FileMain])
	for _, must := range []string{
		`"s3://%s/store?endpoint=%s.compat.objectstorage.%s.oraclecloud.com:443&region=%s", oci_objectstorage_bucket.packs.name, var.namespace, var.region, var.region`,
		`"VMREP_S3_ACCESS_KEY=%s\nVMREP_S3_SECRET_KEY=%s\n", var.s3_access_key, var.s3_secret_key`,
	} {
		if !strings.Contains(main, must) {
			t.Errorf("main.tf lacks %s", must)
		}
	}
}

// TestServerSensitiveVariables checks that every secret the server needs
// is a sensitive variable, so plans and outputs never print it.
func TestServerSensitiveVariables(t *testing.T) {
	files, err := GenerateServer(ServerStack{Name: "vmrep-repl", Port: 7443}, TargetOCI)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclparse.NewParser().ParseHCL(files[FileVariables], FileVariables)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	sensitive := map[string]bool{}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if a, ok := b.Body.Attributes["sensitive"]; ok && b.Type == "variable" {
			v, _ := a.Expr.Value(nil)
			sensitive[b.Labels[0]] = v.True()
		}
	}
	for _, name := range []string{"token", "tls_key_pem", "s3_access_key", "s3_secret_key"} {
		if !sensitive[name] {
			t.Errorf("variable %s is not sensitive", name)
		}
	}
}

func TestServerRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		s      ServerStack
		target string
	}{
		{"local target", ServerStack{Name: "a", Port: 1}, TargetLocal},
		{"bad name", ServerStack{Name: "a b", Port: 1}, TargetOCI},
		{"bad port", ServerStack{Name: "a", Port: 70000}, TargetOCI},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := GenerateServer(tc.s, tc.target); !errors.Is(err, ErrInvalidPlan) {
				t.Fatalf("err %v, want ErrInvalidPlan", err)
			}
		})
	}
}

// TestServerTokenStore: a server stack with a token store passes the
// store as the sensitive variable tokens_json, writes it 0600 where vmrepd
// --tokens reads it, and keeps no single-token variable or flag.
func TestServerTokenStore(t *testing.T) {
	files, err := GenerateServer(ServerStack{Name: "vmrep-repl", Port: 7443, TokenStore: true}, TargetOCI)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if strings.HasSuffix(name, ".tf") {
			parseBack(t, name, b)
		}
	}
	ci, main, vars := string(files[FileCloudInit]), string(files[FileMain]), string(files[FileVariables])
	for _, must := range []string{"--tokens /etc/vmrep/tokens.json --replica-root", "path: /etc/vmrep/tokens.json\n    permissions: \"0600\"\n    content: ${base64encode(tokens_json)}"} {
		if !strings.Contains(ci, must) {
			t.Errorf("cloud-init lacks %q", must)
		}
	}
	if strings.Contains(ci, "--token-file") || strings.Contains(ci, "base64encode(token)") {
		t.Errorf("cloud-init still takes the single token:\n%s", ci)
	}
	if !strings.Contains(main, "= var.tokens_json") || strings.Contains(main, "var.token ") || strings.Contains(main, "var.token\n") {
		t.Errorf("main.tf does not pass the token store alone:\n%s", main)
	}
	if !strings.Contains(vars, `variable "tokens_json"`) || strings.Contains(vars, `variable "token"`) {
		t.Errorf("variables.tf:\n%s", vars)
	}
}
