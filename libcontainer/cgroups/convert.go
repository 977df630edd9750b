package cgroups

import (
	"fmt"
	"strconv"
)

// The spec is written for cgroup v1; these map its values onto v2 files,
// for the fs2 driver and for the systemd driver's v2 unit properties.

// SharesToWeight maps v1 cpu.shares (2..262144) onto v2 cpu.weight
// (1..10000) linearly, with runc's formula so that both runtimes give a
// container the same weight; 0 means unset.
func SharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	if shares < 2 {
		shares = 2
	}
	return 1 + ((shares-2)*9999)/262142
}

// BlkioToIOWeight maps a v1 blkio weight (10..1000) onto io.weight
// (1..10000) with runc's linear formula.
func BlkioToIOWeight(w uint16) uint64 {
	return 1 + (uint64(w)-10)*9999/990
}

// SwapMax converts the spec's swap (memory+swap, v1 semantics) into
// memory.swap.max (swap alone), as runc does: swap -1 is unlimited; swap 0
// is "unset" (Docker sends it); an unlimited limit with unset swap makes
// swap unlimited too; otherwise swap - limit, which needs a limit <= swap.
func SwapMax(swap, limit *int64) (value string, set bool, err error) {
	if swap == nil || *swap == 0 {
		if limit != nil && *limit < 0 {
			return "max", true, nil
		}
		return "", false, nil
	}
	if *swap < 0 {
		return "max", true, nil
	}
	if limit == nil || *limit <= 0 {
		return "", false, fmt.Errorf("%d needs a positive linux.resources.memory.limit (swap is memory+swap)", *swap)
	}
	if *swap < *limit {
		return "", false, fmt.Errorf("%d is below linux.resources.memory.limit %d (swap is memory+swap)", *swap, *limit)
	}
	return strconv.FormatInt(*swap-*limit, 10), true, nil
}
