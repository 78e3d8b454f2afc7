package tokens

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/png"
	"testing"
)

// textTok is the fast-path charge for strs counted together in one body
// for family: what a walker adds for text.
func textTok(family string, strs ...string) int {
	p := profileFor(family)
	m := meter{tab: p.costs}
	for _, s := range strs {
		m.addString(s)
	}
	return p.textTokens(&m)
}

// pngDataURL returns a data URL holding a w×h PNG.
func pngDataURL(t testing.TB, w, h int) string {
	return "data:image/png;base64," + pngBase64(t, w, h)
}

func pngBase64(t testing.TB, w, h int) string {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// noPrompt drops Estimate.Prompt, for tests about Input and Output.
func noPrompt(e Estimate) Estimate {
	e.Prompt = 0
	return e
}
