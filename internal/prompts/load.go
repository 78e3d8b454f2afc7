package prompts

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// versionsDir holds frozen copies: .versions/NAME/N/.
const versionsDir = ".versions"

// Load reads every prompt under dir and compiles its templates. Folders
// whose names start with "_" or "." are not prompts. It returns a
// *LoadError listing every problem found when anything is wrong.
func Load(dir string) (*Repo, error) {
	r, ps := load(dir)
	if ps.errors() > 0 {
		return nil, &LoadError{Problems: ps.sorted()}
	}
	return r, nil
}

// loader holds one load's state.
type loader struct {
	dir string
	eng *engine
	// current compiles the current versions, whose partials are the
	// shared ones under dir/_partials.
	current *compiler
	ps      problems
}

// load reads what it can. The Repo holds the prompts and versions that
// loaded; Lint and Freeze work with it even when other prompts have
// problems.
func load(dir string) (*Repo, problems) {
	l := &loader{dir: dir, eng: newEngine()}
	l.current = newCompiler(l.eng, dir)
	r := &Repo{dir: dir, prompts: map[string]*Prompt{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		l.ps.errorf(dir, 0, "read prompts directory: %v", err)
		return r, l.ps
	}
	for _, e := range entries {
		if !isPromptDir(dir, e) {
			continue
		}
		if p := l.loadPrompt(e.Name()); p != nil {
			r.prompts[p.Name] = p
			r.sorted = append(r.sorted, p)
		}
	}
	return r, l.ps
}

// isPromptDir reports whether a directory entry is a prompt folder
// (following symlinks).
func isPromptDir(dir string, e fs.DirEntry) bool {
	if strings.HasPrefix(e.Name(), "_") || strings.HasPrefix(e.Name(), ".") {
		return false
	}
	if e.Type()&fs.ModeSymlink != 0 {
		info, err := os.Stat(filepath.Join(dir, e.Name()))
		return err == nil && info.IsDir()
	}
	return e.IsDir()
}

func (l *loader) loadPrompt(name string) *Prompt {
	mark := l.ps.errors()
	pdir := filepath.Join(l.dir, name)
	mf := l.readManifest(pdir)
	if mf == nil {
		return nil
	}
	if mf.name != name {
		l.ps.errorf(mf.file, mf.nameLine, "name: %q does not match its folder %q", mf.name, name)
	}
	p := &Prompt{Name: name, Description: mf.description, Current: mf.version, Labels: mf.labels, Versions: map[int]*Version{}}
	if v := l.loadVersion(name, mf, pdir, l.current, mark); v != nil {
		p.Versions[mf.version] = v
	}
	onDisk := l.loadFrozen(p)
	onDisk[mf.version] = true
	for _, label := range slices.Sorted(maps.Keys(mf.labels)) {
		if n := mf.labels[label]; !onDisk[n] {
			l.ps.errorf(mf.file, mf.labelLines[label], "labels.%s: version %d is neither the current version (%d) nor frozen (no folder %s)",
				label, n, mf.version, filepath.Join(l.dir, versionsDir, name, strconv.Itoa(n)))
		}
	}
	return p
}

// readManifest reads dir/prompt.yaml.
func (l *loader) readManifest(dir string) *manifest {
	file := filepath.Join(dir, manifestFile)
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		l.ps.errorf(file, 0, "missing: every prompt folder needs a %s (folders starting with _ or . are not prompts)", manifestFile)
		return nil
	}
	if err != nil {
		l.ps.errorf(file, 0, "%v", err)
		return nil
	}
	return parseManifest(file, data, &l.ps)
}

// loadFrozen loads the frozen copies of p's versions into p.Versions,
// except the one that is also current (the folder's files win; Lint
// reports when they differ). It returns the version numbers found on
// disk, loaded or not.
func (l *loader) loadFrozen(p *Prompt) map[int]bool {
	onDisk := map[int]bool{}
	vdir := filepath.Join(l.dir, versionsDir, p.Name)
	entries, err := os.ReadDir(vdir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			l.ps.errorf(vdir, 0, "%v", err)
		}
		return onDisk
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue // Freeze's temporary folders start with "."
		}
		fdir := filepath.Join(vdir, e.Name())
		n, err := strconv.Atoi(e.Name())
		if err != nil || n < 1 || strconv.Itoa(n) != e.Name() {
			l.ps.errorf(fdir, 0, "frozen version folder %q: want a version number", e.Name())
			continue
		}
		onDisk[n] = true
		if n == p.Current {
			continue
		}
		l.loadFrozenVersion(p, n, fdir)
	}
	return onDisk
}

func (l *loader) loadFrozenVersion(p *Prompt, n int, fdir string) {
	mark := l.ps.errors()
	mf := l.readManifest(fdir)
	if mf == nil {
		return
	}
	if mf.name != p.Name {
		l.ps.errorf(mf.file, mf.nameLine, "name: %q in a frozen copy of %q", mf.name, p.Name)
	}
	if mf.version != n {
		l.ps.errorf(mf.file, mf.versionLine, "version: %d in the frozen copy of version %d", mf.version, n)
	}
	// A frozen version's partials are its own copies.
	if v := l.loadVersion(p.Name, mf, fdir, newCompiler(l.eng, fdir), mark); v != nil {
		v.Frozen = true
		p.Versions[n] = v
	}
}

// loadVersion compiles the variants in dir. It returns nil if there were
// problems since mark (the count of errors before this version's
// prompt.yaml was read).
func (l *loader) loadVersion(name string, mf *manifest, dir string, c *compiler, mark int) *Version {
	v := &Version{
		Prompt:         name,
		Number:         mf.version,
		RequireVariant: mf.requireVar,
		Guardrails:     mf.guardrails,
		Verify:         mf.verify,
		ref:            fmt.Sprintf("%s@%d", name, mf.version),
		dir:            dir,
		root:           c.root,
		input:          mf.input,
	}
	files, err := variantFiles(dir)
	if err != nil {
		l.ps.errorf(dir, 0, "%v", err)
	}
	if len(files) == 0 && err == nil {
		l.ps.errorf(mf.file, 0, "no variants: want at least one *%s file beside %s", variantExt, manifestFile)
	}
	byName := map[string]string{}
	for _, file := range files {
		vt := l.loadVariant(file, c)
		if vt == nil {
			continue
		}
		if other, dup := byName[vt.Name]; dup {
			l.ps.errorf(file, 0, "variant %q is also defined in %s", vt.Name, filepath.Base(other))
			continue
		}
		byName[vt.Name] = file
		v.Variants = append(v.Variants, vt)
	}
	if l.ps.errors() > mark {
		return nil
	}
	v.partials = usedPartials(v)
	return v
}

func (l *loader) loadVariant(file string, c *compiler) *Variant {
	data, err := os.ReadFile(file)
	if err != nil {
		l.ps.errorf(file, 0, "%v", err)
		return nil
	}
	vf, ps := parseVariant(file, data)
	l.ps = append(l.ps, ps...)
	if vf == nil {
		return nil
	}
	return c.compileVariant(vf, file, &l.ps)
}

// variantFiles lists dir/*.prompt, sorted by name.
func variantFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), variantExt) {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	return files, nil
}

// usedPartials lists the partials a version's templates include,
// directly or through other partials.
func usedPartials(v *Version) []string {
	seen := map[string]bool{}
	w := walker{include: func(pt *partial) { seen[pt.rel] = true }}
	for _, vt := range v.Variants {
		for _, m := range vt.messages {
			w.template(m.src, m.tmpl.Root().Nodes, nil)
		}
	}
	return slices.Sorted(maps.Keys(seen))
}
