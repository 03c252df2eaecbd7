// Package paginate reads every page of an AWS SDK for Go v2 paginator (the
// New...Paginator types of every service client) and collects what each
// page lists: the one page loop of the project's SDK callers.
//
// All holds no state; the paginator it is given is used by the calling
// goroutine only.
package paginate

import "context"

// Paginator is an SDK paginator whose pages are P, for a client whose
// per-call options are O (e.g. *dynamodb.QueryPaginator: P is
// *dynamodb.QueryOutput, O is *dynamodb.Options).
type Paginator[P, O any] interface {
	HasMorePages() bool
	NextPage(ctx context.Context, optFns ...func(O)) (P, error)
}

// All reads every page of p and returns the elements listed of each, in
// order; it stops at the first error, which it returns as the SDK did.
func All[P, O, E any](ctx context.Context, p Paginator[P, O], listed func(P) []E) ([]E, error) {
	var all []E
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		all = append(all, listed(page)...)
	}
	return all, nil
}
