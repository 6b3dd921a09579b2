// argocd-project-check answers whether AppProjects admit Applications and the objects they
// render, with Argo CD's own rules: the AppProject methods its application controller calls
// before a sync (sources, destination, cluster- and namespace-scoped kinds). The tests feed it
// the rendered repository instead of re-implementing those rules.
//
// stdin: a JSON array of checks; stdout: a JSON array with, per check, the refusals (empty when
// the project admits everything).
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// inCluster is the cluster Argo CD registers for itself, under the name and address below.
var inCluster = v1alpha1.Cluster{Name: "in-cluster", Server: "https://kubernetes.default.svc"}

type object struct {
	Group     string `json:"group"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Scope as the API server's discovery reports it (cluster-scoped kinds have none).
	Namespaced bool `json:"namespaced"`
}

type check struct {
	Project     v1alpha1.AppProject  `json:"project"`
	Application v1alpha1.Application `json:"application"`
	Objects     []object             `json:"objects"`
}

func destinationCluster(dest v1alpha1.ApplicationDestination) *v1alpha1.Cluster {
	if dest.Server == inCluster.Server || dest.Name == inCluster.Name {
		return &inCluster
	}
	// Any other cluster would be a registered one; the project still matches it by name/server.
	return &v1alpha1.Cluster{Name: dest.Name, Server: dest.Server}
}

// No project here restricts itself to project-scoped clusters, so none are ever listed.
func noProjectClusters(string) ([]*v1alpha1.Cluster, error) { return nil, nil }

func refusals(c check) ([]string, error) {
	out := []string{}
	project, app := c.Project, c.Application
	for _, source := range app.Spec.GetSources() {
		if !project.IsSourcePermitted(source) {
			out = append(out, fmt.Sprintf("source %s is not permitted in project %s", source.RepoURL, project.Name))
		}
	}
	cluster := destinationCluster(app.Spec.Destination)
	ok, err := project.IsDestinationPermitted(cluster, app.Spec.Destination.Namespace, noProjectClusters)
	if err != nil {
		return nil, err
	}
	if !ok {
		out = append(out, fmt.Sprintf("destination %s %s is not permitted in project %s",
			cluster.Server, app.Spec.Destination.Namespace, project.Name))
	}
	for _, o := range c.Objects {
		id := fmt.Sprintf("%s/%s", o.Kind, o.Name)
		gk := schema.GroupKind{Group: o.Group, Kind: o.Kind}
		namespace := ""
		if o.Namespaced {
			// The controller puts namespaced objects without one into the destination namespace.
			namespace = o.Namespace
			if namespace == "" {
				namespace = app.Spec.Destination.Namespace
			}
		}
		if !project.IsGroupKindPermitted(gk, o.Namespaced) {
			scope := "cluster-scoped"
			if o.Namespaced {
				scope = "namespaced"
			}
			out = append(out, fmt.Sprintf("%s: %s kind %s is not permitted in project %s", id, scope, gk, project.Name))
			continue
		}
		if o.Namespaced {
			ok, err := project.IsResourcePermitted(gk, namespace, cluster, noProjectClusters)
			if err != nil {
				return nil, err
			}
			if !ok {
				out = append(out, fmt.Sprintf("%s: namespace %s is not permitted in project %s", id, namespace, project.Name))
			}
		}
	}
	return out, nil
}

func main() {
	var checks []check
	decoder := json.NewDecoder(os.Stdin)
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&checks); err != nil {
		fmt.Fprintln(os.Stderr, "argocd-project-check: cannot read the checks:", err)
		os.Exit(2)
	}
	results := make([][]string, 0, len(checks))
	for _, c := range checks {
		r, err := refusals(c)
		if err != nil {
			fmt.Fprintln(os.Stderr, "argocd-project-check:", err)
			os.Exit(1)
		}
		results = append(results, r)
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		os.Exit(1)
	}
}
