package tokens

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"image"
	"image/gif"
	"image/jpeg"
	"testing"
)

func TestImageSize(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 321, 123))
	var g, j bytes.Buffer
	if err := gif.Encode(&g, gray, nil); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&j, gray, nil); err != nil {
		t.Fatal(err)
	}
	// A 40 KB APP1 (EXIF-like) segment before the frame header, as cameras
	// write: the walk must skip it by its length.
	app1 := append([]byte{0xFF, 0xE1, 0x9C, 0x40}, make([]byte, 0x9C40-2)...)
	exif := append(append(append([]byte{}, j.Bytes()[:2]...), app1...), j.Bytes()[2:]...)

	tests := []struct {
		name string
		data []byte
		w, h int
		ok   bool
	}{
		{"png", mustDecode(t, pngBase64(t, 640, 480)), 640, 480, true},
		{"gif", g.Bytes(), 321, 123, true},
		{"jpeg", j.Bytes(), 321, 123, true},
		{"jpeg with exif", exif, 321, 123, true},
		{"webp lossy", webp("VP8 ", vp8(800, 600)), 800, 600, true},
		{"webp lossless", webp("VP8L", vp8l(1000, 333)), 1000, 333, true},
		{"webp extended", webp("VP8X", vp8x(4000, 3000)), 4000, 3000, true},
		{"truncated png", mustDecode(t, pngBase64(t, 640, 480))[:12], 0, 0, false},
		{"zero-size gif", []byte("GIF89a\x00\x00\x00\x00\x00\x00"), 0, 0, false},
		{"text", []byte("hello, world, not an image"), 0, 0, false},
		{"empty", nil, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, h, ok := imageSize(b64(base64.StdEncoding.EncodeToString(tt.data)))
			if w != tt.w || h != tt.h || ok != tt.ok {
				t.Errorf("imageSize = %d×%d %v, want %d×%d %v", w, h, ok, tt.w, tt.h, tt.ok)
			}
		})
	}
	if _, _, ok := imageSize(b64("iVBORw0K\nGgo=")); ok {
		t.Error("base64 with a line break: want unknown size")
	}
}

func TestImageTokens(t *testing.T) {
	tests := []struct {
		name         string
		w, h         int
		openai, anth int
	}{
		{"tiny", 10, 10, 85 + 170, 1},
		{"512 square", 512, 512, 85 + 170, 350},
		{"1024 square is 768 square, 4 tiles", 1024, 1024, 765, 1399},
		{"2048x4096 is 768x1536, 6 tiles", 2048, 4096, 1105, 1600},
		{"4096x1024 is 2048x512, 4 tiles", 4096, 1024, 765, 820},
		{"tall 768x2048 is the largest, 8 tiles", 768, 2048, 1445, 1230},
		{"200x300", 200, 300, 85 + 170, 80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := openAITiles(tt.w, tt.h); got != tt.openai {
				t.Errorf("openAITiles(%d, %d) = %d, want %d", tt.w, tt.h, got, tt.openai)
			}
			if got := anthropicImageTokens(tt.w, tt.h); got != tt.anth {
				t.Errorf("anthropicImageTokens(%d, %d) = %d, want %d", tt.w, tt.h, got, tt.anth)
			}
		})
	}
	if got := openAIImageTokens([]byte(pngDataURL(t, 64, 64)), []byte("low")); got != 85 {
		t.Errorf("low detail = %d, want 85", got)
	}
	if got := openAIImageTokens([]byte("data:image/png;base64,!!!!"), nil); got != openAIImageUnknown {
		t.Errorf("undecodable data URL = %d, want %d", got, openAIImageUnknown)
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// webp wraps a chunk in a RIFF WEBP container.
func webp(fourCC string, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(4+8+len(payload)))
	b.WriteString("WEBP" + fourCC)
	binary.Write(&b, binary.LittleEndian, uint32(len(payload)))
	b.Write(payload)
	return b.Bytes()
}

func vp8(w, h int) []byte {
	p := []byte{0x30, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint16(p[6:], uint16(w))
	binary.LittleEndian.PutUint16(p[8:], uint16(h))
	return p
}

func vp8l(w, h int) []byte {
	v := uint32(w-1) | uint32(h-1)<<14
	p := []byte{0x2f, 0, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(p[1:], v)
	return p
}

func vp8x(w, h int) []byte {
	p := make([]byte, 12)
	p[4], p[5], p[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
	p[7], p[8], p[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
	return p
}
