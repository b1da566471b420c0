//go:build tools

// Package engine pins the Pulumi CLI the engine tests build (scripts/build-pulumi-cli). Only `require`s: no Pulumi code is
// copied. A wrapper module is needed because pkg/go.mod's own `replace` lines make `go install pkg@version` fail.
package engine

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
