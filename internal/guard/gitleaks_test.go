package guard

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/llmux/llmux/internal/config"
)

func TestGitleaksFindsDefaultKinds(t *testing.T) {
	g := newTestGitleaks(t)
	f := newFakes(1)
	tests := []struct {
		name, text, secret, rule string
	}{
		{"aws in go", "cfg := aws.Config{AccessKeyID: \"" + f.aws + "\"}", f.aws, "aws-access-token"},
		{"slack in python", "SLACK_TOKEN = '" + f.slack + "'\n", f.slack, "slack-bot-token"},
		{"github in js", "const token = `" + f.github + "`;", f.github, "github-pat"},
		{"rsa key block", "key:\n" + f.rsa + "\nend", f.rsa, "private-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := g.Detect(tt.text)
			if !slices.Contains(got, Finding{RuleID: tt.rule, Secret: tt.secret}) {
				t.Errorf("Detect = %v, want a %s finding of the secret", ruleIDs(got), tt.rule)
			}
		})
	}
}

func ruleIDs(fs []Finding) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.RuleID)
	}
	return ids
}

func TestGitleaksOrdersAndDeduplicates(t *testing.T) {
	g := newTestGitleaks(t)
	f := newFakes(2)
	text := "a = \"" + f.github + "\"\nb = \"" + f.aws + "\"\nc = \"" + f.github + "\"\n"
	got := g.Detect(text)
	want := []Finding{{"github-pat", f.github}, {"aws-access-token", f.aws}}
	if !slices.Equal(got, want) {
		t.Errorf("Detect = %v, want github then aws, once each", ruleIDs(got))
	}
}

func TestGitleaksAllowAndStopwords(t *testing.T) {
	f := newFakes(3)
	text := "x = \"" + f.aws + "\"\ny = \"" + f.github + "\"\n"
	tests := []struct {
		name  string
		cfg   config.Secrets
		rules []string
	}{
		{"none", config.Secrets{}, []string{"aws-access-token", "github-pat"}},
		{"allow regex", config.Secrets{Allow: []string{"^AKIA"}}, []string{"github-pat"}},
		{"stopword, any case", config.Secrets{Stopwords: []string{strings.ToLower(f.github[10:16])}}, []string{"aws-access-token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := NewGitleaks(tt.cfg, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if got := ruleIDs(g.Detect(text)); !slices.Equal(got, tt.rules) {
				t.Errorf("rules = %v, want %v", got, tt.rules)
			}
		})
	}
}

func TestGitleaksAllowMarker(t *testing.T) {
	g := newTestGitleaks(t)
	f := newFakes(4)
	if got := g.Detect("key = \"" + f.aws + "\" # gitleaks:allow\n"); len(got) != 0 {
		t.Errorf("Detect = %v on a line marked gitleaks:allow, want nothing", ruleIDs(got))
	}
	if got := g.Detect("key = \"" + f.aws + "\" # gitleaks:allow\nother = \"" + f.github + "\"\n"); !slices.Equal(ruleIDs(got), []string{"github-pat"}) {
		t.Errorf("Detect = %v, want only the unmarked line's github-pat", ruleIDs(got))
	}
}

func TestGitleaksCustomRules(t *testing.T) {
	f := newFakes(5)
	custom := `
[[rules]]
id = "acme-key"
description = "ACME internal key"
regex = '''acme_[a-z0-9]{24}'''
keywords = ["acme_"]
`
	acme := "ac" + "me_" + strings.ToLower(f.github[4:28])
	text := "k1 = \"" + acme + "\"\nk2 = \"" + f.aws + "\"\n"
	tests := []struct {
		name  string
		toml  string
		rules []string
	}{
		{"custom only", custom, []string{"acme-key"}},
		{"extend defaults", "[extend]\nuseDefault = true\n" + custom, []string{"acme-key", "aws-access-token"}},
		{"extend, disabled rule", "[extend]\nuseDefault = true\ndisabledRules = [\"aws-access-token\"]\n" + custom, []string{"acme-key"}},
		{"targeted allowlist on a default rule", "[extend]\nuseDefault = true\n" + custom +
			"\n[[allowlists]]\ntargetRules = [\"aws-access-token\"]\nregexes = ['''^AKIA''']\n", []string{"acme-key"}},
		{"rule allowlist", custom + "[[rules.allowlists]]\nstopwords = [\"" + acme[5:11] + "\"]\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "rules.toml"), []byte(tt.toml), 0o600); err != nil {
				t.Fatal(err)
			}
			// Load twice: gitleaks' own [extend] misbehaves on the second
			// load in a process; ours must not.
			for range 2 {
				g, err := NewGitleaks(config.Secrets{Rules: "rules.toml"}, dir)
				if err != nil {
					t.Fatal(err)
				}
				if got := ruleIDs(g.Detect(text)); !slices.Equal(got, tt.rules) {
					t.Fatalf("rules = %v, want %v", got, tt.rules)
				}
			}
		})
	}
}

func TestNewGitleaksErrors(t *testing.T) {
	tests := []struct {
		name, toml string
		cfg        config.Secrets
		want       string
	}{
		{"missing file", "", config.Secrets{Rules: "nope.toml"}, "nope.toml: open"},
		{"bad toml", "[[rules]\n", config.Secrets{Rules: "rules.toml"}, "rules.toml"},
		{"bad rule regex", "[[rules]]\nid = \"x\"\nregex = '''a(b'''\n", config.Secrets{Rules: "rules.toml"}, "missing closing )"},
		{"extend path", "[extend]\npath = \"other.toml\"\n", config.Secrets{Rules: "rules.toml"}, "[extend] path and url are not supported"},
		{"unknown disabled rule", "[extend]\nuseDefault = true\ndisabledRules = [\"nope\"]\n", config.Secrets{Rules: "rules.toml"}, `no default rule "nope"`},
		{"unknown target rule", "[[allowlists]]\ntargetRules = [\"nope\"]\nregexes = ['''x''']\n", config.Secrets{Rules: "rules.toml"}, `target rule "nope" does not exist`},
		{"bad allow regex", "", config.Secrets{Allow: []string{"ok", "(("}}, "allow[1]: invalid regex"},
		{"empty stopword", "", config.Secrets{Stopwords: []string{" "}}, "stopwords[0]: empty stopword"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.toml != "" {
				if err := os.WriteFile(filepath.Join(dir, "rules.toml"), []byte(tt.toml), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := NewGitleaks(tt.cfg, dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestPlaceholderIsNoSecret checks that no default rule reports a
// placeholder, whatever the rule id in it.
func TestPlaceholderIsNoSecret(t *testing.T) {
	g := newTestGitleaks(t)
	var findings []Finding
	for _, id := range g.ruleIDs() {
		v := newVault([]Finding{{RuleID: id, Secret: "x"}}, nil)
		p := v.s.entries[0].placeholder
		for _, text := range []string{p, "token = \"" + p + "\"", "api_key: " + p + "\n", "Authorization: Bearer " + p} {
			findings = append(findings, g.Detect(text)...)
		}
	}
	if len(findings) > 0 {
		t.Errorf("placeholders reported as secrets: %v", findings)
	}
}

func TestGitleaksConcurrent(t *testing.T) {
	g := newTestGitleaks(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			f := newFakes(uint64(100 + i))
			text := "k = \"" + f.aws + "\"\n" + f.rsa
			if got := g.Detect(text); len(got) != 2 {
				t.Errorf("goroutine %d: Detect = %v, want 2 findings", i, ruleIDs(got))
			}
		})
	}
	wg.Wait()
}

func TestOnlyInside(t *testing.T) {
	text := "aXb <<SECRET_1:r>> c <<SECRET_2:r>> SECRET_2"
	spans := placeholderPattern.FindAllStringIndex(text, -1)
	tests := []struct {
		s    string
		want bool
	}{
		{"SECRET_1", true},  // only inside the first placeholder
		{"SECRET_2", false}, // also outside, at the end
		{":r>>", true},
		{"aXb", false},
		{"r>> c <<S", false}, // spans two placeholders
		{"absent", true},
	}
	for _, tt := range tests {
		if got := onlyInside(text, tt.s, spans); got != tt.want {
			t.Errorf("onlyInside(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}
