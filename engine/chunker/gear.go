package chunker

// gearSeed is "vmrepcdc" in ASCII. Changing it, or the generator below,
// changes every boundary of every store: TestGearTableDigest pins the result.
const gearSeed uint64 = 0x766d726570636463

var (
	// gear is the Gear hash table described in doc.go.
	gear [256]uint64
	// gearShifted[b] is gear[b]<<1, for the two-bytes-per-step scanner.
	gearShifted [256]uint64
)

func init() {
	state := gearSeed
	for i := range gear {
		state += 0x9e3779b97f4a7c15
		z := state
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		gear[i] = z ^ (z >> 31)
		gearShifted[i] = gear[i] << 1
	}
}

// spreadMask returns a mask of bits ones spread evenly over bits 16..62, as
// doc.go specifies. Spreading them lets every mask bit see a different
// window length; keeping bit 63 clear is what the two-byte step relies on.
func spreadMask(bits int) uint64 {
	if bits <= 1 {
		return 1 << 62
	}
	var m uint64
	for j := 0; j < bits; j++ {
		m |= 1 << (62 - (j*46)/(bits-1))
	}
	return m
}
