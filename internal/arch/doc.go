// Package arch holds no code, only the test that keeps llmux's package
// dependencies pointing one way (DESIGN.md "Parts"):
// cmd → server → gateway → router → provider/health/... → api/translate/tokens/config,
// with sim importing only api.
package arch
