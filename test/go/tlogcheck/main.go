// Command tlogcheck verifies, with Go's own golang.org/x/mod/sumdb/note and sumdb/tlog, what
// countersign's TypeScript log code produced (test/unit/tlog.test.ts writes it to stdin as JSON):
// a checkpoint signed as a C2SP note, tree hashes, inclusion proofs and consistency proofs.
// It prints what it checked and exits 1 at the first disagreement.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type input struct {
	VerifierKey string   `json:"vkey"`
	Checkpoint  string   `json:"checkpoint"`
	Leaves      [][]byte `json:"leaves"`
	Roots       [][]byte `json:"roots"` // roots[n] = our tree hash of the first n leaves
	Inclusion   []struct {
		Index int64            `json:"index"`
		Size  int64            `json:"size"`
		Proof tlog.RecordProof `json:"proof"`
	} `json:"inclusion"`
	Consistency []struct {
		From  int64          `json:"from"`
		To    int64          `json:"to"`
		Proof tlog.TreeProof `json:"proof"`
	} `json:"consistency"`
}

type hashes []tlog.Hash

func (h hashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = h[x]
	}
	return out, nil
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "tlogcheck: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fail("reading the input: %v", err)
	}

	// The checkpoint: note.Open with the verifier key, then the three lines of c2sp.org/tlog-checkpoint.
	verifier, err := note.NewVerifier(in.VerifierKey)
	if err != nil {
		fail("note.NewVerifier(%q): %v", in.VerifierKey, err)
	}
	n, err := note.Open([]byte(in.Checkpoint), note.VerifierList(verifier))
	if err != nil {
		fail("note.Open: %v", err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) != 4 || lines[3] != "" || lines[0] != verifier.Name() {
		fail("checkpoint text %q: want exactly origin %q, size and root", n.Text, verifier.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	root, err2 := tlog.ParseHash(lines[2])
	if err != nil || err2 != nil || strconv.FormatInt(size, 10) != lines[1] {
		fail("checkpoint size %q or root %q malformed", lines[1], lines[2])
	}
	fmt.Printf("note.Open: checkpoint signed by %s+%08x: origin %s, size %d, root %s\n", n.Sigs[0].Name, n.Sigs[0].Hash, lines[0], size, root)

	// Go's own tree over the same leaves: every tree hash equal to ours.
	var stored hashes
	for i, data := range in.Leaves {
		h, err := tlog.StoredHashes(int64(i), data, stored)
		if err != nil {
			fail("tlog.StoredHashes(%d): %v", i, err)
		}
		stored = append(stored, h...)
	}
	for size, want := range in.Roots {
		got, err := tlog.TreeHash(int64(size), stored)
		if err != nil || !bytes.Equal(got[:], want) {
			fail("tlog.TreeHash(%d) = %s, ours is %s (%v)", size, got, base64.StdEncoding.EncodeToString(want), err)
		}
	}
	if size > int64(len(in.Leaves)) {
		fail("the checkpoint signs %d leaves, only %d given", size, len(in.Leaves))
	}
	if th, _ := tlog.TreeHash(size, stored); th != root {
		fail("the checkpoint's root is not tlog.TreeHash(%d) = %s", size, th)
	}
	fmt.Printf("tlog.TreeHash: %d tree sizes (0..%d) equal ours, and the checkpoint's root\n", len(in.Roots), len(in.Roots)-1)

	for _, c := range in.Inclusion {
		th, _ := tlog.TreeHash(c.Size, stored)
		if err := tlog.CheckRecord(c.Proof, c.Size, th, c.Index, tlog.RecordHash(in.Leaves[c.Index])); err != nil {
			fail("tlog.CheckRecord(leaf %d of %d): %v", c.Index, c.Size, err)
		}
		want, err := tlog.ProveRecord(c.Size, c.Index, stored)
		if err != nil || fmt.Sprint(want) != fmt.Sprint(c.Proof) {
			fail("tlog.ProveRecord(%d, %d) differs from our proof (%v)", c.Size, c.Index, err)
		}
	}
	fmt.Printf("tlog.CheckRecord: %d inclusion proofs verify, each equal to tlog.ProveRecord's\n", len(in.Inclusion))

	for _, c := range in.Consistency {
		t, _ := tlog.TreeHash(c.To, stored)
		h, _ := tlog.TreeHash(c.From, stored)
		if err := tlog.CheckTree(c.Proof, c.To, t, c.From, h); err != nil {
			fail("tlog.CheckTree(%d -> %d): %v", c.From, c.To, err)
		}
		want, err := tlog.ProveTree(c.To, c.From, stored)
		if err != nil || fmt.Sprint(want) != fmt.Sprint(c.Proof) {
			fail("tlog.ProveTree(%d, %d) differs from our proof (%v)", c.To, c.From, err)
		}
	}
	fmt.Printf("tlog.CheckTree: %d consistency proofs verify, each equal to tlog.ProveTree's\n", len(in.Consistency))
}
