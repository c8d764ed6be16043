package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/drydock/drydock/internal/inventory"
)

// jsonFormatter writes the native inventory as it is: it is drydock's own
// storage and exchange format (stored inventories are re-matched later), so it
// must round-trip, and it is neither sorted nor otherwise rearranged here.
type jsonFormatter struct{}

func (jsonFormatter) Format(w io.Writer, inv *inventory.Inventory) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Package names and licenses may hold <, > and &; escaping them serves
	// HTML embedding, not readers of a JSON file.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(inv); err != nil {
		return fmt.Errorf("report: write json inventory: %w", err)
	}
	return nil
}
