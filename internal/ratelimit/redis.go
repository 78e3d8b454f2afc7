package ratelimit

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
)

// Scripter is the part of a go-redis client that Redis uses.
// *redis.Client, *redis.ClusterClient and *redis.Ring implement it.
type Scripter interface {
	Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd
	EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd
	ScriptLoad(ctx context.Context, script string) *redis.StringCmd
}

var (
	_ Scripter   = (*redis.Client)(nil)
	_ Scripter   = (*redis.ClusterClient)(nil)
	_ Store      = (*Redis)(nil)
	_ levelStore = (*Redis)(nil)
)

// Redis is a Store shared by every replica that uses the same Redis (or
// Redis Cluster) and prefix. Each key's buckets are one Redis key,
// prefix+key (a packed string, see lua.go), and each operation is one Lua
// script run atomically on it in one round trip (EVALSHA, falling back to EVAL when Redis has lost the script), so
// replicas never over-grant between them. Scripts read Redis's own clock
// (TIME), so replicas' clocks do not matter, and set a TTL so idle keys
// vanish a minute after their buckets are full again.
//
// The semantics are exactly Memory's; the same arithmetic runs in Lua
// (see bucket.go). Errors that mean Redis cannot be reached wrap
// ErrUnavailable.
type Redis struct {
	// Now, when set, replaces Redis's clock: the scripts use its time (in
	// ms) instead of TIME. It is for tests and simulations, whose clock is
	// not Redis's; production leaves it nil, so that every replica uses
	// Redis's one clock. Set it before first use.
	Now func() time.Time

	client                                    Scripter
	prefix                                    string
	reserve, settle, learn, block, stat, seed script
}

// NewRedis returns a Redis store using client, with keys prefix+key
// (e.g. "llmux:rl:"). Every script touches one key, so Redis Cluster
// needs no hash tags.
func NewRedis(client Scripter, prefix string) *Redis {
	return &Redis{
		client:  client,
		prefix:  prefix,
		reserve: newScript(luaReserve),
		settle:  newScript(luaSettle),
		learn:   newScript(luaLearn),
		block:   newScript(luaBlock),
		stat:    newScript(luaState),
		seed:    newScript(luaSeed),
	}
}

// Load loads every script into Redis's script cache. It is optional
// (scripts are loaded on first use) and serves as a startup check.
func (r *Redis) Load(ctx context.Context) error {
	for _, s := range []script{r.reserve, r.settle, r.learn, r.block, r.stat, r.seed} {
		if err := r.client.ScriptLoad(ctx, s.src).Err(); err != nil {
			return r.wrap(ctx, "load", err)
		}
	}
	return nil
}

// Reserve implements Store.
func (r *Redis) Reserve(ctx context.Context, key string, lim Limits, cost Cost) (Reservation, error) {
	res, _, _, err := r.reserveSet(ctx, key, lim, cost)
	return res, err
}

// reserveSet is Reserve that also returns the key's set as the script
// saved it, in Redis's ms (ok: there is one; not after an error before
// or in the script). The set comes in the same reply.
func (r *Redis) reserveSet(ctx context.Context, key string, lim Limits, cost Cost) (res Reservation, set bucketSet, ok bool, err error) {
	if err := validate(lim, cost); err != nil {
		return Reservation{}, set, false, err
	}
	c, w := costVec(cost), winVec(lim)
	v, err := r.eval(ctx, r.reserve, "reserve", key,
		lim.RPM, lim.TPM, lim.ITPM, lim.OTPM, w[0], w[1], w[2], w[3], c[0], c[1], c[2], c[3])
	if err != nil {
		return Reservation{}, set, false, err
	}
	// The reply is 5 integers and the packed set.
	vs, _ := v.([]any)
	if len(vs) != 6 {
		return Reservation{}, set, false, fmt.Errorf("ratelimit: redis reserve: unexpected reply %v", v)
	}
	n, err := ints("reserve", vs[:5], 5)
	raw, ok := vs[5].(string)
	if err != nil || !ok || len(raw) != 8*setLen {
		return Reservation{}, set, false, fmt.Errorf("ratelimit: redis reserve: unexpected reply %v", v)
	}
	set = unpackSet(raw)
	res = Reservation{Key: key, Limits: lim, Cost: cost}
	switch {
	case n[0] == 1:
		res.OK, res.at = true, n[2]
	case n[0] == 0:
		res.Wait = ms(n[1])
	case n[0] == -1 && n[1] >= 1 && n[1] <= numDims:
		return res, set, true, exceedsError(int(n[1]-1), n[2], n[3], n[4])
	default:
		return Reservation{}, set, false, fmt.Errorf("ratelimit: redis reserve: unexpected reply %v", n)
	}
	return res, set, true, nil
}

// seedSet creates key's set from set (limits, learned limits, levels
// and windows; a block as the time from set.last to set.blocked), on
// Redis's clock, unless the key holds a set: it never overwrites one. It
// reports whether it wrote.
func (r *Redis) seedSet(ctx context.Context, key string, set bucketSet) (bool, error) {
	var lim, win, learned, level vec
	for d, b := range set.b {
		lim[d], win[d], learned[d], level[d] = b.limit, b.win, b.learned, b.level
	}
	args := make([]int64, 0, 4*numDims+1)
	args = append(append(append(append(args, lim[:]...), win[:]...), learned[:]...), level[:]...)
	args = append(args, max(set.blocked-set.last, 0))
	n, err := r.run(ctx, r.seed, "seed", key, 1, args...)
	if err != nil {
		return false, err
	}
	return n[0] == 1, nil
}

// Settle implements Store. A key that expired since the reservation is
// recreated full (windows unused) from r.Limits before the difference is
// applied.
func (r *Redis) Settle(ctx context.Context, res Reservation, actual Cost) error {
	if !res.OK || res.Limits.IsZero() {
		return nil
	}
	if err := validate(res.Limits, actual); err != nil {
		return err
	}
	if actual == res.Cost {
		return nil // nothing to correct: no round trip
	}
	a, c, l, w := costVec(actual), costVec(res.Cost), res.Limits, winVec(res.Limits)
	_, err := r.run(ctx, r.settle, "settle", res.Key, 1,
		l.RPM, l.TPM, l.ITPM, l.OTPM, w[0], w[1], w[2], w[3], res.at,
		a[0]-c[0], a[1]-c[1], a[2]-c[2], a[3]-c[3])
	return err
}

// Cancel implements Store.
func (r *Redis) Cancel(ctx context.Context, res Reservation) error {
	return r.Settle(ctx, res, Cost{})
}

// Learn implements Store.
func (r *Redis) Learn(ctx context.Context, key string, lim Limits, obs Observed) error {
	if err := validate(lim, Cost{}); err != nil {
		return err
	}
	w := winVec(lim)
	_, err := r.run(ctx, r.learn, "learn", key, 1, lim.RPM, lim.TPM, lim.ITPM, lim.OTPM, w[0], w[1], w[2], w[3],
		obs.RequestsLimit, obs.TokensLimit, obs.InputLimit, obs.OutputLimit,
		obs.RequestsRemaining, obs.TokensRemaining, obs.InputRemaining, obs.OutputRemaining)
	return err
}

// Block implements Store.
func (r *Redis) Block(ctx context.Context, key string, lim Limits, d time.Duration) error {
	if err := validate(lim, Cost{}); err != nil {
		return err
	}
	w := winVec(lim)
	_, err := r.run(ctx, r.block, "block", key, 1, lim.RPM, lim.TPM, lim.ITPM, lim.OTPM, w[0], w[1], w[2], w[3], toMs(d))
	return err
}

// State implements Store. It writes nothing.
func (r *Redis) State(ctx context.Context, key string, lim Limits) (State, error) {
	if err := validate(lim, Cost{}); err != nil {
		return State{}, err
	}
	w := winVec(lim)
	n, err := r.run(ctx, r.stat, "state", key, 13, lim.RPM, lim.TPM, lim.ITPM, lim.OTPM, w[0], w[1], w[2], w[3])
	if err != nil {
		return State{}, err
	}
	level := func(i int) Level { return Level{Limit: n[i], Available: n[i+1], Reset: ms(n[i+2])} }
	return State{
		Requests: level(0), Tokens: level(3), InputTokens: level(6), OutputTokens: level(9),
		BlockedFor: ms(n[12]),
	}, nil
}

// run runs s on prefix+key (see eval) and returns the reply's integers
// (at least want of them).
func (r *Redis) run(ctx context.Context, s script, op, key string, want int, args ...int64) ([]int64, error) {
	v, err := r.eval(ctx, s, op, key, args...)
	if err != nil {
		return nil, err
	}
	return ints(op, v, want)
}

// eval runs s on prefix+key with the clock and args packed as float64s
// into ARGV[1] (see lua.go), and returns the reply.
func (r *Redis) eval(ctx context.Context, s script, op, key string, args ...int64) (any, error) {
	keys := []string{r.prefix + key}
	buf := make([]byte, 0, 8*(len(args)+1))
	buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(float64(r.nowArg())))
	for _, a := range args {
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(float64(a)))
	}
	v, err := r.client.EvalSha(ctx, s.sha, keys, buf).Result()
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		v, err = r.client.Eval(ctx, s.src, keys, buf).Result()
	}
	if err != nil {
		return nil, r.wrap(ctx, op, err)
	}
	return v, nil
}

// nowArg is the scripts' clock argument: 0 (use TIME) unless Now is set.
func (r *Redis) nowArg() int64 {
	if r.Now == nil {
		return 0
	}
	return r.Now().UnixMilli()
}

// wrap prefixes err with the operation, marking it ErrUnavailable when
// Redis could not be reached.
func (r *Redis) wrap(ctx context.Context, op string, err error) error {
	if unavailable(ctx, err) {
		return &unavailableError{op: op, err: err}
	}
	return fmt.Errorf("ratelimit: redis %s: %w", op, err)
}

// unavailable reports whether err means Redis cannot serve now (as
// opposed to the caller's context ending, or a script error).
func unavailable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var re redis.Error
	if !errors.As(err, &re) {
		return true // network, closed client, pool timeout
	}
	return redis.IsLoadingError(err) || redis.IsReadOnlyError(err) || redis.IsMasterDownError(err) ||
		redis.IsClusterDownError(err) || redis.IsTryAgainError(err) || redis.IsMaxClientsError(err) ||
		redis.IsOOMError(err) || redis.HasErrorPrefix(err, "BUSY")
}

// unavailableError is an error that means Redis could not be reached.
type unavailableError struct {
	op  string
	err error
}

func (e *unavailableError) Error() string {
	return "ratelimit: redis " + e.op + ": unavailable: " + e.err.Error()
}

func (e *unavailableError) Unwrap() error { return e.err }

func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

// ints converts a script's reply to integers.
func ints(op string, v any, want int) ([]int64, error) {
	vs, ok := v.([]any)
	if !ok || len(vs) < want {
		return nil, fmt.Errorf("ratelimit: redis %s: unexpected reply %v", op, v)
	}
	n := make([]int64, len(vs))
	for i, x := range vs {
		if n[i], ok = x.(int64); !ok {
			return nil, fmt.Errorf("ratelimit: redis %s: unexpected reply %v", op, v)
		}
	}
	return n, nil
}

// script is a Lua script and its SHA1 for EVALSHA.
type script struct{ src, sha string }

func newScript(src string) script {
	h := sha1.Sum([]byte(src))
	return script{src: src, sha: hex.EncodeToString(h[:])}
}

// setLen is the number of values in a packed set (see lua.go).
const setLen = 2 + 4*numDims

// unpackSet is the set packed in raw (8*setLen bytes, lua.go's layout).
func unpackSet(raw string) bucketSet {
	var n [setLen]int64
	for i := range n {
		var u uint64
		for j := 8*i + 7; j >= 8*i; j-- {
			u = u<<8 | uint64(raw[j])
		}
		n[i] = int64(math.Float64frombits(u))
	}
	s := bucketSet{last: n[0], blocked: n[1]}
	for d := range s.b {
		f := n[2+4*d:]
		s.b[d] = bucket{limit: f[0], learned: f[1], level: f[2], win: f[3]}
	}
	return s
}
