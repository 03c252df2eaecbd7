// Package pemblock splits PEM data into its blocks, for the packages that
// load PEM keys and certificates (broker/auth, internal/tlsreload).
//
// Split holds no state and is safe for concurrent use.
package pemblock

import "encoding/pem"

// Split returns the PEM blocks of data in order and what follows the last
// one (all of data when it holds none).
func Split(data []byte) (blocks []*pem.Block, rest []byte) {
	for {
		block, r := pem.Decode(data)
		if block == nil {
			return blocks, data
		}
		blocks, data = append(blocks, block), r
	}
}
