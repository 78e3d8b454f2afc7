package prompts

import "testing"

func TestSelect(t *testing.T) {
	variants := func(vs ...*Variant) *Version {
		return &Version{Prompt: "p", Number: 1, ref: "p@1", Variants: vs}
	}
	var (
		exact    = &Variant{Name: "gpt4o", Match: []string{"gpt-4o"}}
		glob     = &Variant{Name: "gpt4", Match: []string{"gpt-4*"}}
		family   = &Variant{Name: "openai", Family: FamilyOpenAI}
		def      = &Variant{Name: "default"}
		claude   = &Variant{Name: "claude", Match: []string{"claude-*", "anthropic/claude-*"}, Family: FamilyAnthropic}
		glob2    = &Variant{Name: "gpt4-late", Match: []string{"gpt-4o*"}}
		def2     = &Variant{Name: "default"} // a second "default" in a later file cannot load; used only to show ties
		exactTwo = &Variant{Name: "minis", Match: []string{"gpt-4o", "gpt-4o-mini"}}
	)
	tests := []struct {
		name    string
		version *Version
		model   string
		family  string
		want    *Variant
		reason  string
	}{
		{"exact beats glob", variants(exact, glob, family, def), "gpt-4o", FamilyOpenAI, exact, `variant "gpt4o": matches gpt-4o exactly`},
		{"exact beats glob in any order", variants(glob, exact, def), "gpt-4o", FamilyOpenAI, exact, `variant "gpt4o": matches gpt-4o exactly`},
		{"glob beats family", variants(family, glob, def), "gpt-4.1", FamilyOpenAI, glob, `variant "gpt4": glob "gpt-4*" matches gpt-4.1`},
		{"family beats default", variants(def, family), "o3", FamilyOpenAI, family, `variant "openai": family openai`},
		{"default last", variants(def, family, glob), "mistral-large", "mistral", def, `variant "default": default variant`},
		{"none matches", variants(glob, claude), "mistral-large", "mistral", nil, `no variant of p@1 matches mistral-large (family "mistral")`},
		{"empty version", variants(), "gpt-4o", FamilyOpenAI, nil, `no variant of p@1 matches gpt-4o (family "openai")`},
		{"later glob wins a tie", variants(glob, glob2), "gpt-4o-mini", FamilyOpenAI, glob2, `variant "gpt4-late": glob "gpt-4o*" matches gpt-4o-mini`},
		{"earlier glob keeps a lower score", variants(glob2, glob), "gpt-4.1", FamilyOpenAI, glob, `variant "gpt4": glob "gpt-4*" matches gpt-4.1`},
		{"later exact wins a tie", variants(exact, exactTwo), "gpt-4o", FamilyOpenAI, exactTwo, `variant "minis": matches gpt-4o exactly`},
		{"later default wins a tie", variants(def, def2), "x", "", def2, `variant "default": default variant`},
		{"glob with a provider prefix", variants(claude, def), "anthropic/claude-3-5-sonnet", FamilyAnthropic, claude, `variant "claude": glob "anthropic/claude-*" matches anthropic/claude-3-5-sonnet`},
		{"star does not cross a slash", variants(glob, def), "azure/gpt-4o", FamilyOpenAI, def, `variant "default": default variant`},
		{"family of the variant, not the model name", variants(claude, def), "claude-haiku-4-5", FamilyOpenAI, claude, `variant "claude": glob "claude-*" matches claude-haiku-4-5`},
		{"family alone", variants(claude, family), "bedrock-thing", FamilyAnthropic, claude, `variant "claude": family anthropic`},
		{"exact entry is not a prefix", variants(exact, def), "gpt-4o-mini", FamilyOpenAI, def, `variant "default": default variant`},
		{"empty family matches no family", variants(exact), "o3", "", nil, `no variant of p@1 matches o3 (family "")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := tt.version.Select(tt.model, tt.family)
			if got != tt.want {
				t.Errorf("Select(%q, %q) = %v, want %v", tt.model, tt.family, name(got), name(tt.want))
			}
			if reason != tt.reason {
				t.Errorf("reason = %q, want %q", reason, tt.reason)
			}
		})
	}
}

// TestSelectGood checks selection on the loaded good repository, so the
// rule is tested with variants read from files.
func TestSelectGood(t *testing.T) {
	r := loadGood(t)
	tests := []struct {
		ref, model, family, want string
	}{
		{"explain-code@7", "gpt-4o", FamilyOpenAI, "gpt4"},
		{"explain-code@7", "gpt-4o-mini", FamilyOpenAI, "gpt4"},
		{"explain-code@7", "gpt-3.5-turbo", FamilyOpenAI, "gpt35"},
		{"explain-code@7", "o3-mini", FamilyOpenAI, "gpt35"}, // family
		{"explain-code@7", "claude-haiku-4-5", FamilyAnthropic, "claude"},
		{"explain-code@7", "llama-3", "", "default"},
		{"explain-code@6", "gpt-4o", FamilyOpenAI, "default"},
		{"explain-code@6", "claude-sonnet-4", FamilyAnthropic, "claude"},
		{"summarize", "claude-sonnet-4", FamilyAnthropic, "default"},
	}
	for _, tt := range tests {
		t.Run(tt.ref+"/"+tt.model, func(t *testing.T) {
			v, err := r.Resolve(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			got, reason := v.Select(tt.model, tt.family)
			if name(got) != tt.want {
				t.Errorf("Select = %s (%s), want %s", name(got), reason, tt.want)
			}
		})
	}
}

func name(v *Variant) string {
	if v == nil {
		return "<nil>"
	}
	return v.Name
}

func TestWrittenFor(t *testing.T) {
	tests := []struct {
		vt    Variant
		model string
		want  bool
	}{
		{Variant{Name: "gpt", Match: []string{"gpt-4o"}}, "gpt-4o", true},
		{Variant{Name: "gpt", Match: []string{"gpt-4*"}}, "gpt-4o-mini", true},
		{Variant{Name: "oa", Family: FamilyOpenAI}, "gpt-4o", true},
		{Variant{Name: "default"}, "gpt-4o", false},
		{Variant{Name: "claude", Match: []string{"claude-*"}}, "gpt-4o", false},
	}
	for _, tt := range tests {
		if got := tt.vt.WrittenFor(tt.model, FamilyOpenAI); got != tt.want {
			t.Errorf("%s.WrittenFor(%s) = %v, want %v", tt.vt.Name, tt.model, got, tt.want)
		}
	}
}
