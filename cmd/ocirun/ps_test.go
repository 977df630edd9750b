package main

import "testing"

func TestFilterPS(t *testing.T) {
	const ef = `UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init
root         812       1  0 10:01 ?        00:00:00 sleep 60
root         813     812  0 10:01 ?        00:00:00 sh -c sleep 1 & wait
root        8120       1  0 10:01 ?        00:00:00 ps -ef
`
	tests := []struct {
		name string
		out  string
		pids []int
		want string
		err  bool
	}{
		{
			name: "ef",
			out:  ef,
			pids: []int{812, 813},
			want: "UID          PID    PPID  C STIME TTY          TIME CMD\n" +
				"root         812       1  0 10:01 ?        00:00:00 sleep 60\n" +
				"root         813     812  0 10:01 ?        00:00:00 sh -c sleep 1 & wait\n",
		},
		{
			name: "no pid matches",
			out:  ef,
			pids: []int{4},
			want: "UID          PID    PPID  C STIME TTY          TIME CMD\n",
		},
		{
			name: "pid first column",
			out:  "    PID COMMAND\n     12 sleep\n    120 sh\n",
			pids: []int{12},
			want: "    PID COMMAND\n     12 sleep\n",
		},
		{name: "no PID column", out: "COMMAND\nsleep\n", pids: []int{1}, err: true},
		{name: "garbage in PID column", out: "PID CMD\nabc sleep\n", pids: []int{1}, err: true},
		{name: "empty", out: "", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := filterPS([]byte(tc.out), tc.pids)
			if (err != nil) != tc.err {
				t.Fatalf("error = %v, want error %v", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}
