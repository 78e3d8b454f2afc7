// Package prompts is the prompt repository: prompt templates kept as files,
// versioned, labelled, and rendered per model.
//
// # Files
//
// The prompts directory (prompts.dir in the config) holds one folder per
// prompt; folders whose names start with "_" or "." are not prompts:
//
//	prompts/
//	  _partials/scope.j2          shared text, {% include "_partials/scope.j2" %}
//	  explain-code/
//	    prompt.yaml               name, version, description, input, labels, ...
//	    claude.prompt             one file per variant
//	    default.prompt
//	  .versions/explain-code/6/   frozen copy of version 6 (see Freeze)
//
// prompt.yaml describes the prompt. name must equal the folder name;
// version (an integer >= 1) is the version of the files in the folder;
// input is a JSON Schema for the variables; labels map names to versions
// ({production: 6, staging: 7}); require_variant, guardrails and verify
// are carried through for the router, the guardrails and the client.
// Unknown keys are errors.
//
// A variant file is YAML: optional front matter between "---" lines
// (variant, match, family, params), then `messages:`, a list of {role,
// content} where role is system, user or assistant and content is a
// template. Every problem in any file is reported with its file:line, and
// Load reports all of them at once (*LoadError).
//
// # Versions and labels
//
// A version is immutable once something points at it. The folder's files
// are version N (prompt.yaml's version); earlier versions stay servable as
// frozen copies under .versions/NAME/V/, with their own copies of the
// partials they used. Freeze writes such a copy. The usual cycle is:
// freeze the version in production, bump version in prompt.yaml, edit,
// point staging at the new version, then move production. A label must
// point at the current version or a frozen one. Labels are read only from
// the current prompt.yaml; a frozen copy's labels are ignored. When a
// frozen copy exists for the current version number, the folder's files
// are served and Lint warns if they differ.
//
// Resolve maps a reference to a version: "name" is the version labelled
// production, or the current one when there is no such label;
// "name@staging" follows a label; "name@7" is version 7.
//
// # Selecting a variant
//
// Routing picks a deployment first; the prompt is rendered for that
// deployment's model, and again for each fallback. Version.Select scores
// every variant against the model id and its provider family and takes
// the best; variants are visited in file-name order and a later one wins
// a tie:
//
//	1.0  a match entry without wildcards equals the model ("gpt-4o")
//	0.8  a match glob (path.Match syntax) matches the model ("claude-*")
//	0.5  the variant's family equals the provider family ("openai", "anthropic")
//	0.2  the variant is named "default"
//
// No variant scoring above 0 means no variant: with require_variant the
// router skips the deployment.
//
// # Templates
//
// Templates are a Jinja subset rendered by gonja, compiled once when the
// repository loads, includes and all; rendering only walks the compiled
// trees. They are strict: a variable that is read but not given is an
// error naming it (a *RenderError that unwraps to a *VarError), never an
// empty string; `{% if x is defined %}` tests for optional ones. Output
// is never HTML-escaped, since prompts carry code. Whitespace is Jinja's
// default (one trailing newline of each template is dropped; `{%-` trims).
// Render adds `model` and `model_family` to the variables; a variable of
// the same name given by the caller wins. Includes take one literal path
// under _partials/; a missing partial or an include cycle is a load
// error. Statements that load other templates (extends, import, from) and
// autoescape are refused. Validate checks variables against the input
// schema before rendering.
//
// Lint adds what Load does not reject: template variables missing from
// the input schema (errors), and warnings for syntax beyond the subset
// other prompt tools share ({{identifier}}, {% if %}, {% for %},
// {% include %}), deployments without a variant, and frozen copies that
// no longer match.
//
// # Reloading
//
// A Repo is an immutable snapshot, safe for concurrent use. A Store holds
// the current one: Store.Watch reloads on file changes, and a reload that
// fails keeps serving the last good snapshot and logs each problem with
// its file:line.
package prompts
