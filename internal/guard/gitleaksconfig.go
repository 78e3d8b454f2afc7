package guard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/viper"
	glconfig "github.com/zricethezav/gitleaks/v8/config"
	glregexp "github.com/zricethezav/gitleaks/v8/regexp"

	"github.com/llmux/llmux/internal/config"
)

// gitleaksConfig builds the rule set NewGitleaks uses: the default rules,
// or cfg.Rules (with the defaults when it says [extend] useDefault = true),
// plus one global allowlist for cfg.Allow and cfg.Stopwords.
//
// It does the [extend] itself instead of letting gitleaks do it: gitleaks
// extends through the global viper instance and a package counter that is
// never reset, so its second extending load in a process behaves
// differently from the first. Here every load uses its own viper and calls
// Translate only on configs without [extend].
func gitleaksConfig(cfg config.Secrets, baseDir string) (glconfig.Config, error) {
	allow, err := allowlist(cfg)
	if err != nil {
		return glconfig.Config{}, err
	}
	defaults, err := translateTOML(glconfig.DefaultConfig)
	if err != nil {
		return glconfig.Config{}, fmt.Errorf("default rules: %w", err)
	}
	out := defaults
	if cfg.Rules != "" {
		path := cfg.Rules
		if !filepath.IsAbs(path) {
			path = filepath.Join(baseDir, path)
		}
		if out, err = customRules(path, defaults); err != nil {
			return glconfig.Config{}, fmt.Errorf("rules %s: %w", path, err)
		}
	}
	if allow != nil {
		out.Allowlists = append(out.Allowlists, allow)
	}
	return out, nil
}

// allowlist turns cfg.Allow and cfg.Stopwords into a gitleaks global
// allowlist, or nil when both are empty.
func allowlist(cfg config.Secrets) (*glconfig.Allowlist, error) {
	if len(cfg.Allow) == 0 && len(cfg.Stopwords) == 0 {
		return nil, nil
	}
	a := &glconfig.Allowlist{Description: "llmux secrets.allow and secrets.stopwords"}
	var errs []error
	for i, expr := range cfg.Allow {
		re, err := compileGitleaksRegexp(expr)
		if err != nil {
			errs = append(errs, fmt.Errorf("allow[%d]: %w", i, err))
			continue
		}
		a.Regexes = append(a.Regexes, re)
	}
	for i, w := range cfg.Stopwords {
		if strings.TrimSpace(w) == "" {
			errs = append(errs, fmt.Errorf("stopwords[%d]: empty stopword", i))
			continue
		}
		a.StopWords = append(a.StopWords, strings.ToLower(w))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a, nil
}

// compileGitleaksRegexp checks expr with Go's parser, which gives an error
// where gitleaks' MustCompile would panic.
func compileGitleaksRegexp(expr string) (*glregexp.Regexp, error) {
	if _, err := regexp.Compile(expr); err != nil {
		return nil, fmt.Errorf("invalid regex %q: %w", truncate(expr, 100), err)
	}
	return glregexp.MustCompile(expr), nil
}

func readTOML(text string) (glconfig.ViperConfig, error) {
	v := viper.New()
	v.SetConfigType("toml")
	var vc glconfig.ViperConfig
	if err := v.ReadConfig(strings.NewReader(text)); err != nil {
		return vc, err
	}
	if err := v.Unmarshal(&vc); err != nil {
		return vc, err
	}
	return vc, nil
}

func translateTOML(text string) (glconfig.Config, error) {
	vc, err := readTOML(text)
	if err != nil {
		return glconfig.Config{}, err
	}
	return translate(&vc)
}

// translate calls vc.Translate, turning its panics (MustCompile on a bad
// regex) into errors.
func translate(vc *glconfig.ViperConfig) (cfg glconfig.Config, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	return vc.Translate()
}

// customRules loads a gitleaks TOML file and applies its [extend].
func customRules(path string, defaults glconfig.Config) (glconfig.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return glconfig.Config{}, err
	}
	vc, err := readTOML(string(data))
	if err != nil {
		return glconfig.Config{}, err
	}
	ext := vc.Extend
	vc.Extend = glconfig.Extend{}
	if ext.Path != "" || ext.URL != "" {
		return glconfig.Config{}, errors.New("[extend] path and url are not supported; use useDefault = true")
	}
	if vc.AllowList != nil && len(vc.Allowlists) == 0 {
		vc.Allowlists, vc.AllowList = append(vc.Allowlists, vc.AllowList), nil
	}
	// Allowlists that target rules may name default rules, which Translate
	// would reject before the defaults are merged: apply them afterwards.
	var targeted []targetedAllowlist
	kept := vc.Allowlists[:0]
	for _, a := range vc.Allowlists {
		if len(a.TargetRules) == 0 {
			kept = append(kept, a)
			continue
		}
		al, err := buildAllowlist(a.Description, a.Condition, a.RegexTarget, a.Commits, a.Paths, a.Regexes, a.StopWords)
		if err != nil {
			return glconfig.Config{}, fmt.Errorf("[[allowlists]] %w", err)
		}
		targeted = append(targeted, targetedAllowlist{rules: a.TargetRules, list: al})
	}
	vc.Allowlists = kept
	out, err := translate(&vc)
	if err != nil {
		return glconfig.Config{}, err
	}
	if ext.UseDefault {
		if err := extend(&out, defaults, ext.DisabledRules); err != nil {
			return glconfig.Config{}, err
		}
	}
	for _, t := range targeted {
		for _, id := range t.rules {
			rule, ok := out.Rules[id]
			if !ok {
				return glconfig.Config{}, fmt.Errorf("[[allowlists]] target rule %q does not exist", id)
			}
			rule.Allowlists = append(rule.Allowlists, t.list)
			out.Rules[id] = rule
		}
	}
	for id, rule := range out.Rules {
		if err := rule.Validate(); err != nil {
			return glconfig.Config{}, err
		}
		out.Rules[id] = rule
	}
	return out, nil
}

type targetedAllowlist struct {
	rules []string
	list  *glconfig.Allowlist
}

// buildAllowlist does what gitleaks' unexported parseAllowlist does.
func buildAllowlist(desc, condition, target string, commits, paths, regexes, stopwords []string) (*glconfig.Allowlist, error) {
	a := &glconfig.Allowlist{Description: desc, Commits: commits, StopWords: stopwords}
	switch strings.ToUpper(condition) {
	case "AND", "&&":
		a.MatchCondition = glconfig.AllowlistMatchAnd
	case "", "OR", "||":
		a.MatchCondition = glconfig.AllowlistMatchOr
	default:
		return nil, fmt.Errorf("unknown condition %q (expected and, or)", condition)
	}
	switch target {
	case "", "secret":
	case "match", "line":
		a.RegexTarget = target
	default:
		return nil, fmt.Errorf("unknown regexTarget %q (expected secret, match, line)", target)
	}
	for _, expr := range regexes {
		re, err := compileGitleaksRegexp(expr)
		if err != nil {
			return nil, err
		}
		a.Regexes = append(a.Regexes, re)
	}
	for _, expr := range paths {
		re, err := compileGitleaksRegexp(expr)
		if err != nil {
			return nil, err
		}
		a.Paths = append(a.Paths, re)
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a, nil
}

// extend merges the default rules into cfg the way gitleaks' [extend]
// useDefault does: a rule cfg also defines keeps the default's fields
// except those cfg sets, and adds cfg's keywords, tags and allowlists.
func extend(cfg *glconfig.Config, defaults glconfig.Config, disabled []string) error {
	off := map[string]bool{}
	for _, id := range disabled {
		if _, ok := defaults.Rules[id]; !ok {
			return fmt.Errorf("[extend] disabledRules: no default rule %q", id)
		}
		off[id] = true
	}
	for id, base := range defaults.Rules {
		if off[id] {
			continue
		}
		if cur, ok := cfg.Rules[id]; ok {
			base = mergeRule(base, cur)
		} else {
			cfg.OrderedRules = append(cfg.OrderedRules, id)
		}
		for _, k := range base.Keywords {
			cfg.Keywords[k] = struct{}{}
		}
		cfg.Rules[id] = base
	}
	cfg.Allowlists = append(cfg.Allowlists, defaults.Allowlists...)
	slices.Sort(cfg.OrderedRules)
	return nil
}

func mergeRule(base, cur glconfig.Rule) glconfig.Rule {
	if cur.Description != "" {
		base.Description = cur.Description
	}
	if cur.Entropy != 0 {
		base.Entropy = cur.Entropy
	}
	if cur.SecretGroup != 0 {
		base.SecretGroup = cur.SecretGroup
	}
	if cur.Regex != nil {
		base.Regex = cur.Regex
	}
	if cur.Path != nil {
		base.Path = cur.Path
	}
	base.Tags = append(slices.Clip(base.Tags), cur.Tags...)
	base.Keywords = append(slices.Clip(base.Keywords), cur.Keywords...)
	base.Allowlists = append(slices.Clip(base.Allowlists), cur.Allowlists...)
	return base
}
