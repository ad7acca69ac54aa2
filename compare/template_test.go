package compare

import (
	"fmt"
	"strings"
	"testing"
)

func TestTemplate(t *testing.T) {
	routes := []string{"/users/:id", "/giveaways/:gid/entries", "/static/**", "/a/*/c"}
	tests := []struct {
		name, path string
		routes     []string
		want       string
	}{
		{"route with parameter", "/users/42", routes, "/users/:id"},
		{"route parameter takes any segment", "/users/me", routes, "/users/:id"},
		{"route in the middle", "/giveaways/summer-2024/entries", routes, "/giveaways/:gid/entries"},
		{"route with rest", "/static/css/app.css", routes, "/static/**"},
		{"rest matches nothing more", "/static", routes, "/static/**"},
		{"wildcard segment", "/a/b/c", routes, "/a/*/c"},
		{"parameter needs a segment", "/users/", routes, "/users/"},
		{"no route: numeric", "/orders/12345/items", routes, "/orders/:id/items"},
		{"no route: uuid", "/sessions/550E8400-e29b-41d4-a716-446655440000", nil, "/sessions/:id"},
		{"no route: hex with a digit", "/commits/deadbeef42", nil, "/commits/:id"},
		{"short hex word stays", "/cafe/beef", nil, "/cafe/beef"},
		{"long hex word without digit stays", "/x/deadbeefcafe", nil, "/x/deadbeefcafe"},
		{"opaque token", "/t/aGVsbG8td29ybGQtMTIzNDU2Nzg5", nil, "/t/:id"},
		{"short words and versions stay", "/api/v2/users", nil, "/api/v2/users"},
		{"email", "/users/ann@example.com/avatar", nil, "/users/:id/avatar"},
		{"query and fragment dropped", "/search?q=123#top", nil, "/search"},
		{"empty path", "", nil, "/"},
		{"relative path", "users/7", nil, "/users/:id"},
		{"very long segment", "/p/" + strings.Repeat("a", 65), nil, "/p/:id"},
		{"deep path is cut", "/" + strings.Repeat("a/", 20) + "b", nil, strings.Repeat("/a", 16) + "/**"},
		{"template is a fixed point", "/users/:id/orders/:id", nil, "/users/:id/orders/:id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Template(tt.path, tt.routes); got != tt.want {
				t.Errorf("Template(%q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

func TestNewTemplaterRejectsBadRoutes(t *testing.T) {
	tests := []struct{ route, want string }{
		{"users/:id", `parsing route "users/:id": must start with /`},
		{"/a/**/b", `parsing route "/a/**/b": "**" must be the last segment`},
		{"/a/b*", `parsing route "/a/b*": segment "b*": * must be a whole segment`},
		{"/a/:", `parsing route "/a/:": segment ":": a parameter needs a name of letters, digits or _`},
		{"/" + strings.Repeat("a/", 17), `parsing route "/` + strings.Repeat("a/", 17) + `": more than 16 segments`},
	}
	for _, tt := range tests {
		t.Run(tt.route, func(t *testing.T) {
			_, err := NewTemplater([]string{"/ok", tt.route})
			if err == nil {
				t.Fatalf("NewTemplater(%q) = nil error, want %q", tt.route, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error = %q, want %q", got, tt.want)
			}
		})
	}
}

func ExampleTemplate() {
	routes := []string{"/giveaways/:id/entries"}
	fmt.Println(Template("/giveaways/summer/entries?page=2", routes))
	fmt.Println(Template("/users/123/orders/550e8400-e29b-41d4-a716-446655440000", routes))
	// Output:
	// /giveaways/:id/entries
	// /users/:id/orders/:id
}
