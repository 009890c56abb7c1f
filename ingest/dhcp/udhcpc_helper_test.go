package dhcp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// udhcpcScript writes the udhcpc script of the real-server tests into dir:
// it sets the leased address on the interface and notes each binding, and
// bound counts them. A test releases (SIGTERM with -R) only a client whose
// count shows it bound: udhcpc sends no RELEASE before it has processed
// the ACK the server already logged.
func udhcpcScript(t *testing.T, dir string) (script string, bound func() int) {
	t.Helper()
	script, marks := filepath.Join(dir, "udhcpc.script"), filepath.Join(dir, "bound")
	text := "#!/bin/sh\nif [ \"$1\" = bound ]; then ip addr replace \"$ip/24\" dev \"$interface\"; echo bound >> " + marks + "; fi\nexit 0\n"
	if err := os.WriteFile(script, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, func() int {
		b, _ := os.ReadFile(marks)
		return strings.Count(string(b), "bound")
	}
}
