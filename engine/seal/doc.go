// Package seal holds the cryptography of encryption at rest: a store's data
// key wrapped by a key-encryption key (wrap.go), files sealed in fixed-size
// AES-256-GCM segments so that a ranged read decrypts only the segments it
// covers (file.go), and keyed, invertible names for stored files so that a
// reader of the bucket sees no content hash and no record name (names.go).
//
// It knows bytes, keys and names only: nothing of packs, records, stores or
// backends (engine/cas wires it in as a Backend wrapper).
package seal
