package lineage

import (
	"errors"
	"strings"
	"testing"
)

func TestParseDockerfile(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		args    map[string]string
		want    string
		scratch bool
		wantErr string
	}{
		{name: "single", src: "FROM debian:12\nRUN true\n", want: "debian:12"},
		{name: "lowercase and digest", src: "from registry.example.com/base/debian@sha256:abc\n", want: "registry.example.com/base/debian@sha256:abc"},
		{name: "multi-stage final stage wins", src: "FROM golang:1.22 AS build\nRUN go build\nFROM gcr.io/distroless/static:nonroot\nCOPY --from=build /app /app\n", want: "gcr.io/distroless/static:nonroot"},
		{name: "final stage from a stage name", src: "FROM python:3.12-slim AS base\nFROM base AS deps\nRUN pip install x\nFROM deps\n", want: "python:3.12-slim"},
		{name: "stage names are case-insensitive", src: "FROM alpine:3.20 AS Base\nFROM BASE\n", want: "alpine:3.20"},
		{name: "stage name only counts when declared earlier", src: "FROM one AS two\nFROM two AS one\n", want: "one"},
		{name: "ARG default", src: "ARG BASE_IMAGE=debian:12\nFROM $BASE_IMAGE\n", want: "debian:12"},
		{name: "ARG braces and tag", src: "ARG REG=registry.example.com\nARG VERSION=3.12\nFROM ${REG}/python:${VERSION}-slim AS run\n", want: "registry.example.com/python:3.12-slim"},
		{name: "ARG overridden by build arg", src: "ARG BASE_IMAGE=debian:12\nFROM ${BASE_IMAGE}\n", args: map[string]string{"BASE_IMAGE": "debian@sha256:new"}, want: "debian@sha256:new"},
		{name: "ARG without default from build arg", src: "ARG BASE\nFROM $BASE\n", args: map[string]string{"BASE": "alpine:3"}, want: "alpine:3"},
		{name: "ARG default syntax", src: "ARG TAG\nFROM alpine:${TAG:-3.19}\n", want: "alpine:3.19"},
		{name: "ARG quoted and several on a line", src: "ARG A=\"alpine\" B=3.18\nFROM $A:$B\n", want: "alpine:3.18"},
		{name: "ARG after FROM does not apply to FROM", src: "ARG V=1\nFROM a:$V\nARG V=2\nFROM b:$V\n", want: "b:1"},
		{name: "platform flag skipped", src: "FROM --platform=$BUILDPLATFORM golang AS build\nFROM --platform=linux/amd64 debian:12-slim\n", want: "debian:12-slim"},
		{name: "platform flag with space", src: "FROM --platform linux/arm64 debian:12\n", want: "debian:12"},
		{name: "scratch", src: "FROM golang AS build\nFROM scratch\nCOPY --from=build /a /a\n", scratch: true},
		{name: "scratch through a stage", src: "FROM scratch AS empty\nFROM empty\n", scratch: true},
		{name: "continuation lines", src: "FROM \\\n  debian:12 \\\n  AS x\n", want: "debian:12"},
		{name: "comments and directives", src: "# syntax=docker/dockerfile:1\n# escape=\\\n# FROM commented:1\nFROM debian:12\n  # FROM also:commented\n", want: "debian:12"},
		{name: "backtick escape", src: "# escape=`\nFROM `\n  mcr.microsoft.com/windows/servercore:ltsc2022\n", want: "mcr.microsoft.com/windows/servercore:ltsc2022"},
		{name: "heredoc body ignored", src: "FROM debian:12\nRUN <<EOF\nFROM evil:1\nEOF\nCOPY <<-'X' /f\n\tFROM evil:2\n\tX\n", want: "debian:12"},
		{name: "CRLF", src: "FROM debian:12\r\nRUN x\r\n", want: "debian:12"},
		{name: "no FROM", src: "RUN true\n", wantErr: ErrNoFrom.Error()},
		{name: "empty FROM after substitution", src: "ARG X\nFROM $X\n", wantErr: "empty after substituting"},
		{name: "FROM without image", src: "FROM --platform=linux/amd64\n", wantErr: "FROM without an image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			df, err := ParseDockerfile([]byte(tt.src), tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if df.Base != tt.want || df.Scratch != tt.scratch {
				t.Errorf("base = %q scratch = %v, want %q %v (stages %+v)", df.Base, df.Scratch, tt.want, tt.scratch, df.Stages)
			}
		})
	}
}

func TestParseDockerfileStages(t *testing.T) {
	df, err := ParseDockerfile([]byte("FROM a:1 AS one\n\nRUN x\nFROM one as Two\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Stage{{Name: "one", From: "a:1", Line: 1}, {Name: "two", From: "one", Line: 4}}
	if len(df.Stages) != 2 || df.Stages[0] != want[0] || df.Stages[1] != want[1] {
		t.Errorf("stages = %+v, want %+v", df.Stages, want)
	}
	if _, err := ParseDockerfile([]byte(""), nil); !errors.Is(err, ErrNoFrom) {
		t.Errorf("empty: %v", err)
	}
}

func FuzzParseDockerfile(f *testing.F) {
	for _, s := range []string{
		"FROM debian:12\n",
		"ARG B=x\nFROM ${B:-y} AS a\nFROM a\n",
		"# escape=`\nFROM `\n x\n",
		"FROM --platform=$P scratch\nRUN <<EOF\nFROM z\nEOF\n",
		"ARG A=${A:+${B}}\nFROM $A$\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		df, err := ParseDockerfile(data, map[string]string{"B": "b"})
		if err != nil {
			return
		}
		if len(df.Stages) == 0 {
			t.Fatal("no error and no stages")
		}
		if df.Scratch && df.Base != "" {
			t.Fatalf("scratch with base %q", df.Base)
		}
		if !df.Scratch && df.Base == "" {
			t.Fatal("neither scratch nor a base")
		}
		found := false
		for _, st := range df.Stages {
			if st.From == "" {
				t.Fatalf("stage with empty FROM: %+v", st)
			}
			if st.From == df.Base || df.Scratch {
				found = true
			}
		}
		if !found {
			t.Fatalf("base %q is not any stage's FROM", df.Base)
		}
	})
}
