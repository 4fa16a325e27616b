package panel_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/panel"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema"
)

func TestMain(m *testing.M) {
	os.Exit(chtest.Main(m, chtest.Schema{Migrate: schema.Migrate, BuildRollups: rollup.BuildAll}))
}

// testKey stands in for ingest's keyed hash: what matters here is that
// the service stores the key of the user id, not the id.
func testKey(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

func month(s string) time.Time {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		panic(err)
	}
	return t
}

// Members: valid rows stored, each refused row named by line and field,
// a member sent again replaced; membership by day decides the month.
func TestMembersUploadAndMonths(t *testing.T) {
	s := chtest.NewStore(t)
	svc := panel.NewService(s, testKey)
	ctx := context.Background()
	body := strings.Join([]string{
		`{"panel":"p1","user_id":"+33600000001","country":"FR","platform":"ios"}`,
		`{"panel":"p1","user_id":"+33600000002","country":"fr","platform":"ios"}`,
		`{"panel":"p1","user_id":"+33600000003","country":"EG","platform":"tv"}`,
		`{"panel":"p1","user_id":"+33600000004","country":"EG","platform":"android","joined":"2026-03-01"}`,
		`{"panel":"p1","user_id":"+33600000005","country":"IN","platform":"android","left":"2026-01-31"}`,
		`{"panel":"P 1","user_id":"x","country":"IN","platform":"android"}`,
		`not json`,
	}, "\n")
	res, err := svc.SubmitMembers(ctx, strings.NewReader(body), false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 3 || res.Rejected != 4 {
		t.Fatalf("accepted %d rejected %d (%+v), want 3 and 4", res.Accepted, res.Rejected, res.Errors)
	}
	want := []struct {
		line  int
		field string
	}{{2, "country"}, {3, "platform"}, {6, "panel"}, {7, ""}}
	for i, w := range want {
		if res.Errors[i].Line != w.line || res.Errors[i].Field != w.field {
			t.Errorf("error %d: %+v, want line %d field %q", i, res.Errors[i], w.line, w.field)
		}
	}
	// CSV with a header; member 1 moves to Android.
	csvBody := "panel,user_id,country,platform,age_band\np1,+33600000001,FR,android,18-24\np1,+20100000001,EG,ios,25-34\n"
	if res, err = svc.SubmitMembers(ctx, strings.NewReader(csvBody), true); err != nil || res.Accepted != 2 {
		t.Fatalf("CSV: %+v %v", res, err)
	}
	targets := "panel,month,dimension,category,population\n" +
		"p1,2026-01,country,FR,1000\np1,2026-01,country,EG,3000\np1,2026-01,country,IN,6000\n" +
		"p1,2026-01,platform,ios,4000\np1,2026-01,platform,android,6000\n"
	if res, err = svc.SubmitTargets(ctx, strings.NewReader(targets), true); err != nil || res.Accepted != 5 || res.Rejected != 0 {
		t.Fatalf("targets: %+v %v", res, err)
	}
	// January: members 1 (FR android), 5 (IN android, left 31 Jan) and
	// the Egyptian (EG ios); member 4 joins in March.
	jan, err := svc.Weigh(ctx, "p1", month("2026-01"))
	if err != nil {
		t.Fatal(err)
	}
	if jan.Members != 3 {
		t.Errorf("January: %d members, want 3", jan.Members)
	}
	// February has no targets: January's are used; member 5 has left.
	feb, err := svc.Weigh(ctx, "p1", month("2026-02"))
	if err != nil {
		t.Fatal(err)
	}
	if feb.Members != 2 || !feb.TargetsMonth.Equal(month("2026-01")) {
		t.Errorf("February: %d members with targets of %s, want 2 with January's", feb.Members, feb.TargetsMonth.Format("2006-01"))
	}
	// With IN's only member gone, IN's target has nobody: reported.
	if fmt.Sprint(feb.Weights.Empty) != "[country=IN]" {
		t.Errorf("February empty targets %v, want [country=IN]", feb.Weights.Empty)
	}
	mar, err := svc.Weigh(ctx, "p1", month("2026-03"))
	if err != nil {
		t.Fatal(err)
	}
	if mar.Members != 3 {
		t.Errorf("March: %d members, want 3 (member 4 joined)", mar.Members)
	}
	// The January fit: three members, one per country: each carries its
	// country's target; platforms cannot both be met with them, and the
	// fit says it did not converge rather than pretend.
	if jan.Weights.Converged {
		t.Errorf("January converged, but EG's only member is the only iOS one: ios 4000 and EG 3000 cannot both hold")
	}
	// March: nobody stands for India any more, so the country margins
	// (10,000 people) cannot be met by members standing for 4,000 while
	// the platform margins ask for 10,000: reported, not converged; the
	// platform margin, raked last, holds.
	if mar.Weights.Converged || fmt.Sprint(mar.Weights.Empty) != "[country=IN]" {
		t.Errorf("March: converged %v, empty %v; want not converged with [country=IN]", mar.Weights.Converged, mar.Weights.Empty)
	}
	for _, m := range mar.Weights.Margins {
		if m.Dimension == "platform" && math.Abs(m.Weighted-m.Target) > 0.001*m.Target {
			t.Errorf("March %s=%s weighted %v, target %v", m.Dimension, m.Category, m.Weighted, m.Target)
		}
	}
	if _, err := svc.Weigh(ctx, "nobody", month("2026-01")); err == nil || !strings.Contains(err.Error(), "no targets") {
		t.Errorf("unknown panel: %v, want a 404 naming the missing targets", err)
	}
}

// Targets: each bad row named by its field.
func TestTargetsRefuseBadRows(t *testing.T) {
	s := chtest.NewStore(t)
	svc := panel.NewService(s, testKey)
	body := strings.Join([]string{
		`{"panel":"p1","month":"2026-13","dimension":"country","category":"FR","population":1}`,
		`{"panel":"p1","month":"2026-01","dimension":"religion","category":"x","population":1}`,
		`{"panel":"p1","month":"2026-01","dimension":"country","category":"FR","population":-5}`,
		`{"panel":"p1","month":"2026-01","dimension":"country","category":"FR","population":1200}`,
	}, "\n")
	res, err := svc.SubmitTargets(context.Background(), strings.NewReader(body), false)
	if err != nil {
		t.Fatal(err)
	}
	fields := []string{}
	for _, e := range res.Errors {
		fields = append(fields, e.Field)
	}
	if res.Accepted != 1 || strings.Join(fields, ",") != "month,dimension,population" {
		t.Errorf("accepted %d, errors %+v: want 1 and month, dimension, population", res.Accepted, res.Errors)
	}
}
