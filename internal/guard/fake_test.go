package guard

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/llmux/llmux/internal/config"
)

// Fake secrets are assembled at run time from parts and random characters,
// so no literal in this repository looks like a credential to GitHub push
// protection or to a secret scanner.

const (
	upper32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	alnum   = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	digits  = "0123456789"
	base64s = alnum + "+/"
)

// fakes is one set of fake secrets of the kinds the default rules find.
type fakes struct {
	aws, slack, github, rsa string
	// Armored keys with blank lines inside.
	encryptedRSA, pgp string
}

func newFakes(seed uint64) fakes {
	r := rand.New(rand.NewPCG(seed, 7))
	pick := func(alphabet string, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	block := func(kind, headers string) string {
		var b strings.Builder
		b.WriteString("-----BEGIN " + kind + " PRIVATE " + "KEY" + suffix(kind) + "-----\n" + headers)
		for range 12 {
			b.WriteString(pick(base64s, 64) + "\n")
		}
		b.WriteString(pick(base64s, 20) + "==\n-----END " + kind + " PRIVATE " + "KEY" + suffix(kind) + "-----")
		return b.String()
	}
	return fakes{
		aws:          "AK" + "IA" + pick(upper32, 16),
		slack:        "xo" + "xb-" + pick(digits, 12) + "-" + pick(digits, 13) + "-" + pick(alnum, 24),
		github:       "gh" + "p_" + pick(alnum, 36),
		rsa:          block("RSA", ""),
		encryptedRSA: block("RSA", "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,"+pick("0123456789ABCDEF", 32)+"\n\n"),
		pgp:          block("PGP", "Version: test\n\n"),
	}
}

func suffix(kind string) string {
	if kind == "PGP" {
		return " BLOCK"
	}
	return ""
}

func (f fakes) all() []string { return []string{f.aws, f.slack, f.github, f.rsa} }

// newTestGitleaks loads the default rules (tens of milliseconds).
func newTestGitleaks(t testing.TB) *Gitleaks {
	t.Helper()
	g, err := NewGitleaks(config.Secrets{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return g
}
