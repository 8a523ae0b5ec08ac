package event_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/inhook/webhook/event"
)

// A Series webhook block sends the attributes its admin chose, as JSON or
// as a form: ParseSeries decodes either into the same fields, and Decode
// moves them into a struct of your own. Scalars arrive as strings, so
// numbers and booleans take the ",string" tag option.
func ExampleParseSeries() {
	type signup struct {
		Email string `json:"email"`
		Seats int    `json:"seats,string"`
		Pay   bool   `json:"paying,string"`
	}
	bodies := []struct{ contentType, body string }{
		{"application/x-www-form-urlencoded", "name=Jonas+Lindqvist&email=jonas%40brightmill-foods.example&seats=120&paying=true"},
		{"application/json", `{"name":"Jonas Lindqvist","email":"jonas@brightmill-foods.example","seats":"120","paying":"true"}`},
	}
	for _, b := range bodies {
		sw, err := event.ParseSeries([]byte(b.body), b.contentType)
		if err != nil {
			log.Fatal(err) // ErrInvalidJSON or ErrInvalidForm: answer 400
		}
		var s signup
		if err := sw.Decode(&s); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %s %+v\n", sw.ContentType, sw.Fields["name"], s)
	}
	// Output:
	// application/x-www-form-urlencoded: Jonas Lindqvist {Email:jonas@brightmill-foods.example Seats:120 Pay:true}
	// application/json: Jonas Lindqvist {Email:jonas@brightmill-foods.example Seats:120 Pay:true}
}

// An endpoint that receives one event type only decodes with ParseAs: any
// of Jam's shapes of that type decodes, and a body of another type is
// ErrWrongShape (answer 400), not an event the callbacks would mistake.
func ExampleParseAs() {
	bodies := []string{
		`{"jamId":"7c9e6679-7425-40de-944b-e07fc1f90ae7","teamId":"b1f4c2e8","type":"video","author":{"email":"marta@larkspur.example"}}`,
		`{"type":"jam.created","data":{"jamId":"7c9e6679-7425-40de-944b-e07fc1f90ae7","teamId":"b1f4c2e8","type":"video"}}`,
		`{"type":"intercom.recorder.recorded","data":{"conversationId":"215468123901234","jamId":"1e3a5c7e"}}`,
	}
	for _, body := range bodies {
		ev, err := event.ParseAs(event.TypeJamCreated, []byte(body))
		if errors.Is(err, event.ErrWrongShape) {
			fmt.Println("400:", err)
			continue
		}
		if err != nil {
			log.Fatal(err)
		}
		jc := ev.(*event.JamCreated)
		fmt.Println(jc.EventType(), jc.JamID, jc.Type)
	}
	// Output:
	// jam.created 7c9e6679-7425-40de-944b-e07fc1f90ae7 video
	// jam.created 7c9e6679-7425-40de-944b-e07fc1f90ae7 video
	// 400: webhook: body does not have the shape of the event type: want jam.created, body is intercom.recorder.recorded
}
