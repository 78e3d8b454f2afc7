// Package config is the llmux configuration file: its schema (plain structs
// with YAML tags), secrets interpolated from the environment, defaults, and
// validation that reports every problem at once with file:line and the
// field's path.
//
// # The file
//
// One YAML document whose top level is a Config. Five lists make the model:
// accounts (credentials and a base URL at a provider), deployments (an
// account × a model, with its context window, prices and rate limits),
// routes (the names clients put in "model", each a set of deployments),
// keys (the clients' own keys and the routes they may use), and optionally
// a simulator section that stands in for the providers. Items refer to one
// another by name: a deployment names its account, a route its deployments,
// a key its routes. testdata/full.yml shows every field with its meaning.
//
// # Reading it
//
// Load (or Parse, on bytes) works in four steps:
//
//  1. Parse the YAML into nodes, keeping every line number. Anchors,
//     aliases and merge keys (<<) work as in YAML. Top-level fields named
//     x-anything are ignored, as in Compose files, to hold anchors:
//     "x-limits: &limits {rpm: 500}".
//  2. Decode strictly: an unknown or repeated field, or a value of the
//     wrong type, is a problem at its line (durations are Go duration
//     strings: "30s", "10m"; a bare number is not a duration). String
//     values are interpolated on the way (below).
//  3. Apply defaults, documented on each field. A number whose zero could
//     be meant (weight, timeout, max_body_bytes) gets its default only when
//     absent from the file; an explicit 0 is kept, and validated.
//  4. Validate the whole: names unique, references resolved, numbers in
//     range, limits of the kind the provider enforces (rpm/tpm, or
//     rpm/itpm/otpm for Anthropic), simulator accounts backed by a
//     simulator key of their provider, route strategies known (and a
//     weighted route with some weight), deployment capabilities and
//     tiers known.
//
// Every step adds to one list of Problems, returned as the error: one line
// per problem, "file:line: field.path: message", in file order. A field
// that failed to decode is not validated again, so each mistake is
// reported once. The Line field of each list item (Account.Line, ...)
// keeps where it starts, for messages after loading.
//
// # Environment
//
// In any string value, ${NAME} is replaced by the environment variable NAME
// and ${NAME:-default} by its value or, when unset or empty, the default;
// $${ writes a literal ${. An unset variable without a default is a problem
// naming the variable. Substitution happens after YAML parsing, so a value
// cannot inject YAML structure, and line numbers stay those of the file.
// Numbers and booleans may come from the environment too ("rpm: ${RPM}").
//
// # Secrets
//
// api_key, admin_key and the client and simulator key values are Secrets:
// they print as [redacted]. No Problem shows a secret: messages about them
// say what is wrong ("duplicate key value (also keys[0])"), never the
// value. Values that came from the environment are shown as written in
// the file ("${BASE_URL}"), never expanded, in case a credential ended up
// in the wrong variable or field.
package config
