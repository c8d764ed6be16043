package extract

import "io/fs"

// IsExecutableCandidate is the Required test of extractors that read
// executables of any name anywhere (Go binaries, cargo-auditable Rust
// binaries): the path says nothing, so only the mode and size decide. It
// reports a regular file with an exec bit whose size is within [minSize, maxSize].
// Sniffer then looks at the first bytes before the file is copied.
func IsExecutableCandidate(fi fs.FileInfo, minSize, maxSize int64) bool {
	if fi == nil {
		return false
	}
	m := fi.Mode()
	if !m.IsRegular() || m&0o111 == 0 {
		return false
	}
	size := fi.Size()
	return size >= minSize && size <= maxSize
}
