package codeindex

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// manifestName is the file whose atomic replacement commits an update.
const manifestName = "manifest"

// formatVersion changes when the on-disk format does; an index of another
// version is rebuilt.
const formatVersion = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// manifest lists the files of one committed index generation.
type manifest struct {
	Version    int      `json:"version"`
	Root       string   `json:"root"`
	Generation uint64   `json:"generation"`
	Embedder   string   `json:"embedder"`
	Model      *fileRef `json:"model,omitempty"`
	Segments   []segRef `json:"segments"`
	// TrainedChunks is the corpus size the built-in model was learned
	// from; FoldedChunks counts chunks folded in since, which triggers a
	// retrain when it exceeds retrainFraction of TrainedChunks.
	TrainedChunks int `json:"trained_chunks,omitempty"`
	FoldedChunks  int `json:"folded_chunks,omitempty"`
	// Skipped lists the files left out for their content (binary,
	// generated, too large), so that an unchanged one is not read again.
	Skipped map[string]skippedFile `json:"skipped,omitempty"`
}

// skippedFile is the stat data of a skipped file and why it was skipped.
type skippedFile struct {
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime"`
	Why   string `json:"why"`
}

// fileRef names a file of the index with its size and CRC-32C.
type fileRef struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	CRC  uint32 `json:"crc32c"`
}

// segRef is a segment and the files in it that later updates replaced
// or removed (indexes into the segment's file table).
type segRef struct {
	fileRef
	Dead []int32 `json:"dead,omitempty"`
}

const manifestHeader = "llmux-codeindex"

// encodeManifest renders the manifest as a header line carrying the
// CRC-32C of the JSON body that follows.
func encodeManifest(m *manifest) []byte {
	body, _ := json.MarshalIndent(m, "", " ")
	return fmt.Appendf(nil, "%s %d %08x\n%s\n", manifestHeader, formatVersion, crc32.Checksum(body, castagnoli), body)
}

// readManifest returns the committed manifest, (nil, nil) when there is
// none, or an error wrapping ErrCorrupt.
func readManifest(dir string) (*manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("codeindex: read manifest: %w", err)
	}
	head, body, ok := bytes.Cut(data, []byte{'\n'})
	f := strings.Fields(string(head))
	if !ok || len(f) != 3 || f[0] != manifestHeader {
		return nil, corrupt(dir, "manifest has no valid header")
	}
	if v, _ := strconv.Atoi(f[1]); v != formatVersion {
		return nil, corrupt(dir, fmt.Sprintf("manifest format %s, this build reads %d", f[1], formatVersion))
	}
	body = bytes.TrimSuffix(body, []byte{'\n'})
	want, err := strconv.ParseUint(f[2], 16, 32)
	if err != nil || uint32(want) != crc32.Checksum(body, castagnoli) {
		return nil, corrupt(dir, "manifest checksum mismatch")
	}
	var m manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, corrupt(dir, "manifest: "+err.Error())
	}
	return &m, nil
}

func corrupt(dir, msg string) error {
	return fmt.Errorf("%w: %s: %s (delete it or run llmux index to rebuild)", ErrCorrupt, dir, msg)
}

// readChecked reads an index file and verifies its size and checksum.
// A missing file is returned as fs.ErrNotExist (it may have been collected
// by a concurrent update; the caller re-reads the manifest).
func readChecked(dir string, ref fileRef) ([]byte, error) {
	if strings.ContainsAny(ref.Name, `/\`) || ref.Name == "" || ref.Name[0] == '.' {
		return nil, corrupt(dir, fmt.Sprintf("bad file name %q", ref.Name))
	}
	data, err := os.ReadFile(filepath.Join(dir, ref.Name))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != ref.Size || crc32.Checksum(data, castagnoli) != ref.CRC {
		return nil, corrupt(dir, fmt.Sprintf("%s: checksum mismatch", ref.Name))
	}
	return data, nil
}

// writeDurable writes data to dir/name via a temporary file, fsyncs it,
// renames it into place and fsyncs the directory, so that after a crash
// the name holds either the old or the new content, never a torn one.
func writeDurable(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, ".tmp-"+name+"-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable. File systems that cannot sync a
// directory (some network ones, Windows) report an error we ignore: there
// the rename is as durable as the system makes it.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	d.Sync()
	return nil
}

// writeIndexFile writes a new segment or model file and returns its ref.
func writeIndexFile(dir, name string, data []byte) (fileRef, error) {
	if err := writeDurable(dir, name, data); err != nil {
		return fileRef{}, fmt.Errorf("codeindex: write %s: %w", name, err)
	}
	return fileRef{Name: name, Size: int64(len(data)), CRC: crc32.Checksum(data, castagnoli)}, nil
}

// collectGarbage removes the segment and model files, and leftover
// temporary files, that the manifest m does not reference.
func collectGarbage(dir string, m *manifest) {
	keep := map[string]bool{}
	if m.Model != nil {
		keep[m.Model.Name] = true
	}
	for _, s := range m.Segments {
		keep[s.Name] = true
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		n := e.Name()
		ours := strings.HasPrefix(n, "seg-") || strings.HasPrefix(n, "model-") || strings.HasPrefix(n, ".tmp-")
		if ours && !keep[n] {
			os.Remove(filepath.Join(dir, n))
		}
	}
}

// ensureDir creates the index directory with a .gitignore that keeps it
// out of version control.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("codeindex: create index dir: %w", err)
	}
	gi := filepath.Join(dir, ".gitignore")
	if _, err := os.Stat(gi); errors.Is(err, fs.ErrNotExist) {
		if err := os.WriteFile(gi, []byte("*\n"), 0o644); err != nil {
			return fmt.Errorf("codeindex: %w", err)
		}
	}
	return nil
}
