package main

import (
	"encoding/pem"
	"fmt"
	"path/filepath"
	"strings"
)

// notPublicKey catches the common mistake of giving the public half of a
// key pair to a command that signs, and names the file to use instead
// ("drydock key generate ci" writes ci.key and ci.pub).
func notPublicKey(path string, b []byte) error {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil
	}
	want := "the private key"
	if base, ok := strings.CutSuffix(filepath.Base(path), ".pub"); ok {
		want += " (" + base + ".key)"
	}
	return fmt.Errorf("--key: %s is a public key; signing needs %s", filepath.Base(path), want)
}
