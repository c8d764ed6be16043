// Package extract defines the interface every package extractor implements.
// Extractors are plugins: each lives in its own package under extract/os or
// extract/lang and is listed in one explicit map in package extract/extractors.
// Extractors see one file at a time, handed to them by the layer walker; they
// never open images, databases or the network.
package extract

import (
	"context"
	"io"
	"io/fs"

	"github.com/drydock/drydock/internal/inventory"
)

// Input is one file of interest, as captured from a layer or a directory.
type Input struct {
	// Path is slash-separated and relative to the image root, with no leading
	// slash ("var/lib/dpkg/status").
	Path string
	Info fs.FileInfo
	// Reader holds the whole file content; Size is its length. The content may
	// live in memory or in a temporary file: extractors must not keep Reader
	// after Extract returns.
	Reader io.ReaderAt
	Size   int64
	// TempDir is a private directory an extractor may write scratch files to
	// (an rpm sqlite database must be a real file to be opened). It is removed
	// by the caller.
	TempDir string
}

// Extractor finds packages in files.
type Extractor interface {
	// Name is a stable identifier ("os/dpkg").
	Name() string
	// Version changes whenever the extractor's output for the same input
	// changes, so that cached layer results made by an older version are not
	// reused.
	Version() int
	// Required reports whether the file at path is wanted. It is called for
	// every file of every layer, so it must be cheap and must not do I/O.
	Required(path string, fi fs.FileInfo) bool
	// Extract returns the packages in the file. Package.Path, Layer and
	// LayerIndex are filled in by the caller; PURL may be left empty for OS
	// packages, whose distro qualifier is only known after the whole image
	// was read (see inventory.AssignPURLs).
	Extract(ctx context.Context, in *Input) ([]inventory.Package, error)
}

// Sniffer is implemented by extractors that decide by content (executables
// of any name). The walker hands them a file's first bytes (up to SniffLen)
// before copying it, so that the thousands of executables in an image that
// are not of their kind cost a few bytes each, not a full copy.
type Sniffer interface {
	Sniff(path string, head []byte) bool
}

// SniffLen is how many leading bytes a Sniffer is shown (fewer for smaller
// files).
const SniffLen = 16
