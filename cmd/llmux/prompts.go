package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/prompts"
)

// promptFlags locate the prompt repository: --dir, or the prompts.dir of
// --config (whose deployments also give lint its targets).
type promptFlags struct {
	dir, config string
}

func (f *promptFlags) add(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.dir, "dir", "", "prompt repository directory (default: prompts.dir of --config)")
	cmd.PersistentFlags().StringVar(&f.config, "config", "", "config file whose prompts.dir and deployments to use")
}

// resolve returns the repository directory and, with --config, the
// config.
func (f *promptFlags) resolve() (string, *config.Config, error) {
	var cfg *config.Config
	if f.config != "" {
		c, err := config.Load(f.config)
		if err != nil {
			return "", nil, err
		}
		cfg = c
	}
	switch {
	case f.dir != "":
		return f.dir, cfg, nil
	case cfg != nil && cfg.Prompts != nil:
		dir := cfg.Prompts.Dir
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(filepath.Dir(f.config), dir)
		}
		return dir, cfg, nil
	case cfg != nil:
		return "", nil, fmt.Errorf("%s has no prompts section; pass --dir", f.config)
	}
	return "", nil, errors.New("no prompt repository: pass --dir DIR or --config FILE")
}

func (f *promptFlags) load() (*prompts.Repo, *config.Config, error) {
	dir, cfg, err := f.resolve()
	if err != nil {
		return nil, nil, err
	}
	repo, err := prompts.Load(dir)
	return repo, cfg, err
}

func promptsCmd(stdout io.Writer) *cobra.Command {
	var f promptFlags
	cmd := &cobra.Command{Use: "prompts", Short: "Work with the prompt repository: list, show, render, lint, freeze"}
	f.add(cmd)
	cmd.AddCommand(
		&cobra.Command{
			Use: "list", Short: "List prompts with their versions, labels and variants", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				repo, _, err := f.load()
				if err != nil {
					return err
				}
				return listPrompts(stdout, repo)
			},
		},
		&cobra.Command{
			Use: "show NAME[@label|@version]", Short: "Show one prompt version: variables, variants, verify step", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				repo, _, err := f.load()
				if err != nil {
					return err
				}
				v, err := repo.Resolve(args[0])
				if err != nil {
					return err
				}
				showPrompt(stdout, v)
				return nil
			},
		},
		renderCmd(&f, stdout),
		&cobra.Command{
			Use: "lint", Short: "Check every prompt: syntax, partials, variables, variants per configured model, portability", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				dir, cfg, err := f.resolve()
				if err != nil {
					return err
				}
				return lintPrompts(stdout, dir, cfg)
			},
		},
		&cobra.Command{
			Use: "freeze NAME", Short: "Snapshot a prompt's current version into .versions/ so labels can keep serving it", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				dir, _, err := f.resolve()
				if err != nil {
					return err
				}
				n, err := prompts.Freeze(dir, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "froze %s@%d into %s\n", args[0], n, filepath.Join(dir, ".versions", args[0], fmt.Sprint(n)))
				return nil
			},
		},
	)
	return cmd
}

func listPrompts(w io.Writer, repo *prompts.Repo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROMPT\tVERSION\tLABELS\tVARIANTS")
	for _, p := range repo.Prompts() {
		var labels []string
		for l, n := range p.Labels {
			labels = append(labels, fmt.Sprintf("%s=%d", l, n))
		}
		slices.Sort(labels)
		var variants []string
		if v := p.Versions[p.Current]; v != nil {
			for _, vt := range v.Variants {
				variants = append(variants, vt.Name)
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", p.Name, p.Current, strings.Join(labels, " "), strings.Join(variants, " "))
	}
	return tw.Flush()
}

func showPrompt(w io.Writer, v *prompts.Version) {
	fmt.Fprintf(w, "%s\n", v.Ref())
	fmt.Fprintf(w, "variables: %s\n", strings.Join(v.Variables(), ", "))
	fmt.Fprintf(w, "require_variant: %v\n", v.RequireVariant)
	if len(v.Guardrails) > 0 {
		fmt.Fprintf(w, "guardrails: %s\n", strings.Join(v.Guardrails, ", "))
	}
	if v.Verify != nil {
		fmt.Fprintf(w, "verify: %s -> {{%s}} (timeout %s)\n", strings.Join(v.Verify.Command, " "), v.Verify.Variable, v.Verify.Timeout)
	}
	for _, vt := range v.Variants {
		params, _ := json.Marshal(vt.Params)
		fmt.Fprintf(w, "variant %s (%s): match %v family %q params %s\n", vt.Name, vt.File, vt.Match, vt.Family, params)
	}
}

func renderCmd(f *promptFlags, stdout io.Writer) *cobra.Command {
	var model, family, varsFile string
	cmd := &cobra.Command{
		Use:   "render NAME[@label|@version] --model MODEL --vars FILE.json",
		Short: "Render a prompt for a model: which variant and why, the messages and parameters",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, cfg, err := f.load()
			if err != nil {
				return err
			}
			vars, err := readVars(varsFile)
			if err != nil {
				return err
			}
			if family == "" {
				family = familyOf(cfg, model)
			}
			return renderPrompt(stdout, repo, args[0], model, family, vars)
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "the model id (a deployment's family, e.g. gpt-4o, claude-haiku-4-5)")
	cmd.Flags().StringVar(&family, "family", "", "provider family: openai or anthropic (default: from --config, else by model name)")
	cmd.Flags().StringVar(&varsFile, "vars", "", "JSON file with the variables (- for stdin)")
	cmd.MarkFlagRequired("model")
	return cmd
}

func renderPrompt(w io.Writer, repo *prompts.Repo, ref, model, family string, vars map[string]any) error {
	v, err := repo.Resolve(ref)
	if err != nil {
		return err
	}
	if err := v.Validate(vars); err != nil {
		return fmt.Errorf("%s: %w", v.Ref(), err)
	}
	vt, why := v.Select(model, family)
	if vt == nil {
		return fmt.Errorf("%s has no variant for model %s (family %s)", v.Ref(), model, family)
	}
	fmt.Fprintf(w, "prompt:  %s#%s\nvariant: %s\n", v.Ref(), vt.Name, why)
	msgs, err := vt.Render(vars, model, family)
	if err != nil {
		return err
	}
	params, _ := json.Marshal(vt.Params)
	fmt.Fprintf(w, "params:  %s\n", params)
	for _, m := range msgs {
		fmt.Fprintf(w, "\n--- %s\n%s", m.Role, m.Content)
		if !strings.HasSuffix(m.Content, "\n") {
			fmt.Fprintln(w)
		}
	}
	return nil
}

// readVars reads a JSON object of variables from a file ("-": stdin; "":
// none).
func readVars(path string) (map[string]any, error) {
	if path == "" {
		return map[string]any{}, nil
	}
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read variables: %w", err)
	}
	vars := map[string]any{}
	if err := json.Unmarshal(data, &vars); err != nil {
		return nil, fmt.Errorf("variables %s: must be a JSON object: %w", path, err)
	}
	return vars, nil
}

// familyOf is the provider family of model: from the config's
// deployments when given, else guessed from the name.
func familyOf(cfg *config.Config, model string) string {
	if cfg != nil {
		for _, d := range cfg.Deployments {
			if d.Family != model && d.Model != model {
				continue
			}
			for _, a := range cfg.Accounts {
				if a.Name == d.Account {
					return providerFamily(a.Provider)
				}
			}
		}
	}
	if strings.HasPrefix(model, "claude") {
		return "anthropic"
	}
	return "openai"
}

func providerFamily(provider string) string {
	if provider == config.ProviderAnthropic {
		return "anthropic"
	}
	return "openai"
}

// targets are the chat deployments of cfg, for lint.
func targets(cfg *config.Config) []prompts.Target {
	if cfg == nil {
		return nil
	}
	accounts := map[string]string{}
	for _, a := range cfg.Accounts {
		accounts[a.Name] = a.Provider
	}
	var out []prompts.Target
	seen := map[prompts.Target]bool{}
	for _, d := range cfg.Deployments {
		t := prompts.Target{Model: d.Family, Family: providerFamily(accounts[d.Account])}
		if d.Embeddings || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	return out
}

func lintPrompts(w io.Writer, dir string, cfg *config.Config) error {
	problems := append(prompts.Lint(dir, targets(cfg)), guardrailProblems(dir, cfg)...)
	errs := 0
	for _, p := range problems {
		fmt.Fprintln(w, p.String())
		if p.Severity == "error" {
			errs++
		}
	}
	if errs > 0 {
		return fmt.Errorf("%d errors, %d warnings", errs, len(problems)-errs)
	}
	fmt.Fprintf(w, "%s: ok (%d warnings)\n", dir, len(problems))
	return nil
}

// guardrailProblems reports guardrails a prompt names that the config
// does not define: requests naming the prompt would fail.
func guardrailProblems(dir string, cfg *config.Config) []prompts.Problem {
	if cfg == nil {
		return nil
	}
	repo, err := prompts.Load(dir)
	if err != nil {
		return nil // Lint reported it
	}
	defined := map[string]bool{}
	for _, g := range cfg.Guardrails {
		defined[g.Name] = true
	}
	var out []prompts.Problem
	for _, p := range repo.Prompts() {
		for n, v := range p.Versions {
			for _, g := range v.Guardrails {
				if !defined[g] {
					out = append(out, prompts.Problem{File: filepath.Join(dir, p.Name, "prompt.yaml"), Severity: prompts.SeverityError,
						Message: fmt.Sprintf("%s@%d names guardrail %q, which %s does not define", p.Name, n, g, cfg.Path)})
				}
			}
		}
	}
	return out
}
