package sim

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/llmux/llmux/internal/api/openai"
)

// maxEmbeddingInputs is OpenAI's limit on inputs per request.
const maxEmbeddingInputs = 2048

func (s *Server) openaiEmbeddings(w http.ResponseWriter, r *http.Request) {
	s.embeddings(w, r, surface{provider: ProviderOpenAI})
}

// embeddings serves OpenAI and Azure embeddings.
func (s *Server) embeddings(w http.ResponseWriter, r *http.Request, sf surface) {
	x := s.begin(w, r, sf)
	if x == nil {
		return
	}
	defer x.record()
	x.metered = true
	body, e := x.readBody()
	if e == nil {
		var req *openai.EmbeddingRequest
		if req, e = decodeEmbeddings(body, sf.deployment == ""); e == nil {
			x.serveEmbeddings(req)
			return
		}
	}
	x.fail(e)
}

func (x *exchange) serveEmbeddings(req *openai.EmbeddingRequest) {
	model := req.Model
	if x.sf.deployment != "" {
		model = x.sf.deployment
	}
	tokens := embeddingTokens(req.Input)
	x.arrive(faultReq{model: model, prompt: tokens})
	if !x.admit(tokens, model) {
		return
	}
	f := x.fault()
	if x.replaced(f) || x.waitWhole(f, 0) != nil {
		return
	}
	dims := defaultDimensions(model)
	if req.Dimensions != nil {
		dims = *req.Dimensions
	}
	resp := openai.EmbeddingResponse{Object: openai.ObjectList, Model: model,
		Usage: openai.EmbeddingsUsage{PromptTokens: tokens, TotalTokens: tokens}}
	n := req.Input.Len()
	for i := range n {
		var text string
		var toks []int
		if i < len(req.Input.Texts) {
			text = req.Input.Texts[i]
		} else {
			toks = req.Input.Tokens[i-len(req.Input.Texts)]
		}
		v := embedVector(text, toks, dims)
		resp.Data = append(resp.Data, openai.Embedding{Object: openai.ObjectEmbedding, Index: i,
			Embedding: encodeVector(v, req.EncodingFormat == "base64")})
	}
	x.in = tokens
	x.sendJSON(resp)
}

// decodeEmbeddings decodes and validates an embeddings body as OpenAI does.
func decodeEmbeddings(body []byte, needModel bool) (*openai.EmbeddingRequest, *apiError) {
	var req openai.EmbeddingRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, openaiDecodeError(err, body)
	}
	in := req.Input
	badInput := invalid("input", "", "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.")
	switch {
	case needModel && req.Model == "":
		return nil, invalid("", "", "you must provide a model parameter")
	case in.Texts == nil && in.Tokens == nil:
		return nil, invalid("input", "", "'input' is a required property")
	case in.Len() == 0 || in.Len() > maxEmbeddingInputs:
		return nil, badInput
	case req.EncodingFormat != "" && req.EncodingFormat != "float" && req.EncodingFormat != "base64":
		return nil, invalid("encoding_format", "invalid_value", fmt.Sprintf("Invalid value: '%s'. Supported values are: 'float' and 'base64'.", req.EncodingFormat))
	case req.Dimensions != nil && (*req.Dimensions < 1 || *req.Dimensions > 3072):
		return nil, invalid("dimensions", "", fmt.Sprintf("Invalid value for 'dimensions' = %d. Must be a positive integer no larger than 3072.", *req.Dimensions))
	case req.Dimensions != nil && strings.Contains(req.Model, "ada-002"):
		return nil, invalid("dimensions", "", "This model does not support specifying dimensions.")
	}
	for _, t := range in.Texts {
		if t == "" {
			return nil, badInput
		}
	}
	for _, t := range in.Tokens {
		if len(t) == 0 {
			return nil, badInput
		}
	}
	return &req, nil
}

// defaultDimensions is the model's native size: 3072 for
// text-embedding-3-large, 1536 otherwise.
func defaultDimensions(model string) int {
	if strings.Contains(model, "3-large") {
		return 3072
	}
	return 1536
}

// embeddingTokens counts input tokens: the estimate for texts, the length
// for token arrays.
func embeddingTokens(in openai.EmbeddingInput) int {
	n := 0
	for _, t := range in.Texts {
		n += estimate(t)
	}
	for _, t := range in.Tokens {
		n += len(t)
	}
	return n
}

// embedVector is a deterministic unit vector by feature hashing: each
// lower-cased word and its character trigrams add ±1 to hashed dimensions,
// plus faint noise seeded by the whole input so no component is zero.
// Texts that share words point in similar directions, so retrieval tests
// on the simulator rank sensibly.
func embedVector(text string, tokens []int, dims int) []float32 {
	v := make([]float64, dims)
	features := 0
	add := func(f string, w float64) {
		h := hash64(f, 0)
		if h>>63 == 1 {
			w = -w
		}
		v[h%uint64(dims)] += w
		features++
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		add("w:"+w, 1)
		for rs, i := []rune(w), 0; i+3 <= len(rs); i++ {
			add("t:"+string(rs[i:i+3]), 0.5)
		}
	}
	for _, t := range tokens {
		add("k:"+strconv.Itoa(t), 1)
	}
	if features == 0 {
		add("s:"+text, 1)
	}
	h := hash64(text+"\x00"+fmt.Sprint(tokens), 1)
	r := rand.New(rand.NewPCG(h, h^0x9e3779b97f4a7c15))
	noise := 0.1 * math.Sqrt(float64(features)/float64(dims))
	norm := 0.0
	for i := range v {
		v[i] += noise * r.NormFloat64()
		norm += v[i] * v[i]
	}
	norm = math.Sqrt(norm)
	out := make([]float32, dims)
	for i := range v {
		out[i] = float32(v[i] / norm)
	}
	return out
}

// encodeVector is the JSON value of an embedding: an array of floats, or
// with base64 a string of the little-endian float32 bytes.
func encodeVector(v []float32, b64 bool) json.RawMessage {
	if b64 {
		buf := make([]byte, 4*len(v))
		for i, f := range v {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(f))
		}
		return json.RawMessage(`"` + base64.StdEncoding.EncodeToString(buf) + `"`)
	}
	b := make([]byte, 0, 12*len(v)+2)
	b = append(b, '[')
	for i, f := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(f), 'g', -1, 32)
	}
	return append(b, ']')
}
