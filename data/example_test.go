package data_test

import (
	"fmt"
	"io"
	"log"

	"github.com/align-go/align/data"
)

func ExampleOpenSFT() {
	r, err := data.OpenSFT("testdata/chat.parquet", data.Options{SkipBadRows: true})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for {
		ex, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ex.Loc, ex.Kind, len(ex.Messages), "messages")
	}
	rep := r.Report()
	fmt.Println(rep.Format, rep.Rows, "rows,", rep.Skipped, "skipped")
	for reason, n := range rep.Reasons {
		fmt.Println(n, reason)
	}
	// Unordered output:
	// testdata/chat.parquet: row 0 conversation 2 messages
	// testdata/chat.parquet: row 1 conversation 3 messages
	// testdata/chat.parquet: row 2 conversation 4 messages
	// testdata/chat.parquet: row 5 conversation 2 messages
	// messages 4 rows, 2 skipped
	// 1 field "messages[*].content": want string, got null
	// 1 field "messages": want list of messages, got null
}

func ExampleSplit() {
	rows := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	train, eval, err := data.Split(rows, 0.2, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(train), len(eval))
	// Output: 8 2
}
