package job_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/k1s/k1s/internal/controller/job"
)

// startController runs a Job controller with a short backoff until the
// test ends.
func startController(t *testing.T, client kubernetes.Interface) {
	t.Helper()
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := job.New(job.Options{
		Client: client, Jobs: factory.Batch().V1().Jobs(), Pods: factory.Core().V1().Pods(),
		Logger: testLogger(), BackoffBase: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller Run: %v", err)
		}
		factory.Shutdown()
	})
}

// setup starts an api-server and the controller and returns a client and
// a fresh namespace.
func setup(t *testing.T) (kubernetes.Interface, string) {
	t.Helper()
	client, err := kubernetes.NewForConfig(startAPIServer(t))
	if err != nil {
		t.Fatal(err)
	}
	startController(t, client)
	ns := "jobs"
	if _, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return client, ns
}

func createJob(t *testing.T, client kubernetes.Interface, ns, name string, completions, parallelism, backoffLimit int32) *batchv1.Job {
	t.Helper()
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{
			Completions: &completions, Parallelism: &parallelism, BackoffLimit: &backoffLimit,
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "c", Image: "busybox"}},
			}},
		},
	}
	created, err := client.BatchV1().Jobs(ns).Create(context.Background(), j, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return created
}

// activePods lists the pods controlled by j that are not terminal and not
// being deleted.
func activePods(t *testing.T, client kubernetes.Interface, j *batchv1.Job) []corev1.Pod {
	t.Helper()
	list, err := client.CoreV1().Pods(j.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.UID != j.UID || p.DeletionTimestamp != nil ||
			p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		out = append(out, p)
	}
	return out
}

// finish plays the kubelet: the pod ran and ended in phase.
func finish(t *testing.T, client kubernetes.Interface, pod *corev1.Pod, phase corev1.PodPhase) {
	t.Helper()
	p := pod.DeepCopy()
	p.Status.Phase = phase
	if _, err := client.CoreV1().Pods(p.Namespace).UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func condition(j *batchv1.Job, ct batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if c := &j.Status.Conditions[i]; c.Type == ct && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}

func getJob(t *testing.T, client kubernetes.Interface, j *batchv1.Job) *batchv1.Job {
	t.Helper()
	got, err := client.BatchV1().Jobs(j.Namespace).Get(context.Background(), j.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// waitEvent waits for an Event with reason on j.
func waitEvent(t *testing.T, client kubernetes.Interface, j *batchv1.Job, reason string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		list, err := client.CoreV1().Events(j.Namespace).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.InvolvedObject.UID == j.UID && e.Reason == reason {
				return nil
			}
		}
		return fmt.Errorf("no %s event on %s", reason, j.Name)
	})
}

// runJob plays the kubelet until j has condition done: each round it
// finishes one active pod in phase, checking that no more than
// parallelism pods are ever active at once.
func runJob(t *testing.T, client kubernetes.Interface, j *batchv1.Job, phase corev1.PodPhase, done batchv1.JobConditionType) *batchv1.Job {
	t.Helper()
	var last *batchv1.Job
	eventually(t, 20*time.Second, func() error {
		active := activePods(t, client, j)
		if len(active) > int(*j.Spec.Parallelism) {
			t.Fatalf("%d pods active, parallelism is %d", len(active), *j.Spec.Parallelism)
		}
		if last = getJob(t, client, j); condition(last, done) != nil {
			return nil
		}
		if len(active) > 0 {
			finish(t, client, &active[0], phase)
		}
		return fmt.Errorf("job %s not %s: %+v", j.Name, done, last.Status)
	})
	return last
}

func TestCompletionsWithParallelism(t *testing.T) {
	client, ns := setup(t)
	j := createJob(t, client, ns, "work", 3, 2, 6)
	eventually(t, 10*time.Second, func() error {
		if n := len(activePods(t, client, j)); n != 2 {
			return fmt.Errorf("%d active pods, want 2", n)
		}
		return nil
	})
	got := runJob(t, client, j, corev1.PodSucceeded, batchv1.JobComplete)
	if condition(got, batchv1.JobSuccessCriteriaMet) == nil {
		t.Errorf("no SuccessCriteriaMet condition: %+v", got.Status.Conditions)
	}
	if got.Status.Succeeded != 3 || got.Status.Active != 0 || got.Status.CompletionTime == nil || got.Status.StartTime == nil {
		t.Errorf("status = %+v, want 3 succeeded, 0 active, start and completion times", got.Status)
	}
	waitEvent(t, client, j, "SuccessfulCreate")
	waitEvent(t, client, j, "Completed")
}

func TestBackoffLimitExceeded(t *testing.T) {
	client, ns := setup(t)
	j := createJob(t, client, ns, "flaky", 1, 1, 2)
	got := runJob(t, client, j, corev1.PodFailed, batchv1.JobFailed)
	c := condition(got, batchv1.JobFailed)
	if c.Reason != "BackoffLimitExceeded" {
		t.Errorf("Failed reason = %q, want BackoffLimitExceeded", c.Reason)
	}
	if condition(got, batchv1.JobFailureTarget) == nil {
		t.Errorf("no FailureTarget condition: %+v", got.Status.Conditions)
	}
	if got.Status.Failed != 3 || got.Status.Succeeded != 0 {
		t.Errorf("failed/succeeded = %d/%d, want 3/0", got.Status.Failed, got.Status.Succeeded)
	}
	waitEvent(t, client, j, "BackoffLimitExceeded")
	// A failed job starts no more pods.
	if n := len(activePods(t, client, j)); n != 0 {
		t.Errorf("%d active pods after failure", n)
	}
}

func TestSuspendAndResume(t *testing.T) {
	client, ns := setup(t)
	j := createJob(t, client, ns, "pausable", 5, 2, 6)
	waitActive := func(n int) {
		t.Helper()
		eventually(t, 10*time.Second, func() error {
			if got := len(activePods(t, client, j)); got != n {
				return fmt.Errorf("%d active pods, want %d", got, n)
			}
			return nil
		})
	}
	setSuspend := func(v bool) {
		t.Helper()
		eventually(t, 5*time.Second, func() error {
			cur := getJob(t, client, j)
			cur.Spec.Suspend = &v
			_, err := client.BatchV1().Jobs(ns).Update(context.Background(), cur, metav1.UpdateOptions{})
			return err
		})
	}
	waitActive(2)
	setSuspend(true)
	waitActive(0)
	eventually(t, 10*time.Second, func() error {
		got := getJob(t, client, j)
		if condition(got, batchv1.JobSuspended) == nil || got.Status.Active != 0 {
			return fmt.Errorf("not suspended: %+v", got.Status)
		}
		return nil
	})
	waitEvent(t, client, j, "SuccessfulDelete")
	setSuspend(false)
	waitActive(2)
	got := runJob(t, client, j, corev1.PodSucceeded, batchv1.JobComplete)
	if got.Status.Succeeded != 5 {
		t.Errorf("succeeded = %d, want 5", got.Status.Succeeded)
	}
}
