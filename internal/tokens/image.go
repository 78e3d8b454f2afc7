package tokens

import "bytes"

// Images, audio and files are charged by formula, never by the length of
// their base64 text (a 1 MB photo is not 350k tokens). When an image is
// inline (a data URL, or Anthropic's base64 source) its width and height
// are read from the file header, decoding only the few base64 groups that
// hold them; otherwise a fixed estimate is charged.

// OpenAI image tokens. Source: OpenAI vision guide, "Calculating costs"
// (gpt-4o / gpt-4.1 / gpt-4-turbo tile models): detail "low" costs 85
// tokens; "high" (and "auto", which may choose high) scales the image to
// fit 2048×2048, then so its shortest side is at most 768, and costs 85 +
// 170 per 512×512 tile. A typical photo (4:3, or 1024×1024) is 4 tiles,
// 765 tokens: the charge when the size is unknown. The largest possible is
// 768×2048 = 8 tiles, 1445 tokens. Patch-based models (gpt-4.1-mini/nano,
// o4-mini) count differently and can exceed this; the gateway settles to
// the reported usage afterwards.
const (
	openAIImageBase    = 85
	openAIImageTile    = 170
	openAIImageLow     = openAIImageBase
	openAIImageUnknown = openAIImageBase + 4*openAIImageTile // 765
)

// Anthropic image tokens. Source: Anthropic vision guide, "Calculate image
// costs": tokens = width × height / 750, after scaling so the long edge is
// at most 1568 px; larger images are scaled to stay near 1600 tokens, so
// 1600 is both the cap and the charge when the size is unknown (URL and
// file sources).
const (
	anthropicImageDivisor = 750
	anthropicImageMaxEdge = 1568
	anthropicImageMax     = 1600
)

// Documents (PDF) and audio [inf: no admission formula is published].
// Anthropic's PDF guide puts one page at 1,500–3,000 text tokens plus the
// page image; OpenAI feeds PDFs as extracted text plus page images. A
// document is charged documentBase plus one token per documentBytesPerToken
// bytes of file: a 10-page text PDF (~100 KB) is charged ~4k. Scanned PDFs
// are under-charged; the reservation is settled to the reported usage.
// OpenAI audio input is ~10 tokens per second (gpt-4o audio pricing per
// minute ÷ price per token); a second is assumed to be 16,000 bytes of
// WAV (8 kHz, 16-bit) or 4,000 bytes of MP3 and others (32 kbit/s), the
// lowest common rates, so the duration is over- rather than under-stated.
const (
	documentBase          = 3000
	documentBytesPerToken = 100
	audioTokensPerSecond  = 10
	wavBytesPerSecond     = 16000
	audioBytesPerSecond   = 4000
)

// openAIImageTokens returns the tokens for an OpenAI image_url part.
func openAIImageTokens(url []byte, detail []byte) int {
	if string(detail) == "low" {
		return openAIImageLow
	}
	w, h, ok := dataURLImageSize(url)
	if !ok {
		return openAIImageUnknown
	}
	return openAITiles(w, h)
}

// openAITiles applies the high-detail tile formula to a w×h image.
func openAITiles(w, h int) int {
	if m := max(w, h); m > 2048 {
		w, h = scale(w, h, 2048, m)
	}
	if m := min(w, h); m > 768 {
		w, h = scale(w, h, 768, m)
	}
	tiles := ((w + 511) / 512) * ((h + 511) / 512)
	return openAIImageBase + openAIImageTile*tiles
}

// anthropicImageTokens applies Anthropic's formula to a w×h image.
func anthropicImageTokens(w, h int) int {
	if m := max(w, h); m > anthropicImageMaxEdge {
		w, h = scale(w, h, anthropicImageMaxEdge, m)
	}
	return min((w*h+anthropicImageDivisor-1)/anthropicImageDivisor, anthropicImageMax)
}

// scale shrinks w×h by to/from, rounding up so the estimate stays high.
func scale(w, h, to, from int) (int, int) {
	return max(1, (w*to+from-1)/from), max(1, (h*to+from-1)/from)
}

// documentTokens estimates a document from the length of its base64 data.
func documentTokens(base64Len int) int {
	return documentBase + base64Len*3/4/documentBytesPerToken
}

// audioTokens estimates OpenAI input audio from its base64 data length.
func audioTokens(base64Len int, format []byte) int {
	perSecond := audioBytesPerSecond
	if string(format) == "wav" || string(format) == "pcm16" {
		perSecond = wavBytesPerSecond
	}
	bytes := base64Len * 3 / 4
	return (bytes*audioTokensPerSecond + perSecond - 1) / perSecond
}

// dataURLImageSize reads the size of the image in a base64 data URL
// ("data:image/png;base64,...").
func dataURLImageSize(url []byte) (w, h int, ok bool) {
	const marker = ";base64,"
	if !bytes.HasPrefix(url, []byte("data:")) {
		return 0, 0, false
	}
	i := bytes.Index(url, []byte(marker))
	if i < 0 {
		return 0, 0, false
	}
	return imageSize(b64(url[i+len(marker):]))
}

// imageSize reads the pixel size from the header of a PNG, GIF, WebP or
// JPEG file.
func imageSize(d b64) (w, h int, ok bool) {
	w, h, ok = sniffSize(d)
	if !ok || w <= 0 || h <= 0 {
		return 0, 0, false
	}
	return w, h, true
}

func sniffSize(d b64) (w, h int, ok bool) {
	var hdr [30]byte
	if !d.read(0, hdr[:12]) {
		return 0, 0, false
	}
	switch {
	case bytes.HasPrefix(hdr[:], []byte("\x89PNG\r\n\x1a\n")):
		if !d.read(16, hdr[:8]) {
			return 0, 0, false
		}
		return be32(hdr[0:]), be32(hdr[4:]), true
	case bytes.HasPrefix(hdr[:], []byte("GIF8")):
		return int(hdr[6]) | int(hdr[7])<<8, int(hdr[8]) | int(hdr[9])<<8, true
	case string(hdr[0:4]) == "RIFF" && string(hdr[8:12]) == "WEBP":
		return webpSize(d)
	case hdr[0] == 0xFF && hdr[1] == 0xD8:
		return jpegSize(d)
	}
	return 0, 0, false
}

// webpSize reads the canvas size of a lossy, lossless or extended WebP.
func webpSize(d b64) (w, h int, ok bool) {
	var b [18]byte
	if !d.read(12, b[:]) {
		return 0, 0, false
	}
	switch string(b[0:4]) {
	case "VP8 ": // frame header at 20: 3-byte tag, start code, 14-bit sizes
		return int(b[14]) | int(b[15]&0x3f)<<8, int(b[16]) | int(b[17]&0x3f)<<8, true
	case "VP8L": // signature 0x2f at 20, then 14-bit width-1 and height-1
		b1, b2, b3, b4 := int(b[9]), int(b[10]), int(b[11]), int(b[12])
		return 1 + (b1 | (b2&0x3f)<<8), 1 + (b2>>6 | b3<<2 | (b4&0x0f)<<10), true
	case "VP8X": // 24-bit canvas width-1 and height-1 at 24
		return 1 + (int(b[12]) | int(b[13])<<8 | int(b[14])<<16),
			1 + (int(b[15]) | int(b[16])<<8 | int(b[17])<<16), true
	}
	return 0, 0, false
}

// jpegSize walks JPEG segments to the first start-of-frame marker. Each
// step reads 9 bytes; segments (EXIF, ICC profiles) are skipped by length.
func jpegSize(d b64) (w, h int, ok bool) {
	p := 2
	var b [9]byte
	for range 256 {
		if !d.read(p, b[:]) || b[0] != 0xFF {
			return 0, 0, false
		}
		m := b[1]
		switch {
		case m == 0xFF: // fill byte
			p++
			continue
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
			return int(b[7])<<8 | int(b[8]), int(b[5])<<8 | int(b[6]), true
		case m >= 0xD0 && m <= 0xD9 || m == 0x01: // markers without a length
			p += 2
			continue
		}
		p += 2 + (int(b[2])<<8 | int(b[3]))
	}
	return 0, 0, false
}

func be32(b []byte) int {
	return int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
}

// b64 is standard or URL-safe base64 text read at random offsets of the
// decoded data, without decoding the rest. Text with line breaks or
// escapes is not supported (the size is then unknown).
type b64 []byte

// read fills dst with the decoded bytes at offset off.
func (d b64) read(off int, dst []byte) bool {
	for i := range dst {
		g := (off + i) / 3
		if 4*g+4 > len(d) {
			return false
		}
		var v uint32
		for _, c := range d[4*g : 4*g+4] {
			x, ok := b64Value(c)
			if !ok {
				return false
			}
			v = v<<6 | uint32(x)
		}
		dst[i] = byte(v >> (16 - 8*((off+i)%3)))
	}
	return true
}

// b64Value decodes one base64 character; padding reads as zero.
func b64Value(c byte) (byte, bool) {
	switch {
	case c >= 'A' && c <= 'Z':
		return c - 'A', true
	case c >= 'a' && c <= 'z':
		return c - 'a' + 26, true
	case c >= '0' && c <= '9':
		return c - '0' + 52, true
	case c == '+' || c == '-':
		return 62, true
	case c == '/' || c == '_':
		return 63, true
	case c == '=':
		return 0, true
	}
	return 0, false
}
