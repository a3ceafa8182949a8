package registry

import (
	"maps"
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

const batchTestUID = types.UID("6f1b2c3d-0000-4000-8000-000000000001")

// batchTestJob returns a job as the api-server has it at validation time:
// defaulted, with uid set and PrepareForCreate applied.
func batchTestJob(t *testing.T, mutate func(*batchv1.Job)) *batchv1.Job {
	t.Helper()
	r := groupTestResource(t, "batch", "jobs")
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "pi", Image: "perl:5.34"}},
		}}},
	}
	if mutate != nil {
		mutate(j)
	}
	r.Default(j)
	if j.UID == "" {
		j.UID = batchTestUID
	}
	r.PrepareForCreate(j)
	return j
}

func TestJobDefault(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		spec                  batchv1.JobSpec
		completions, parallel *int32
		backoffLimit          int32
		replacement           batchv1.PodReplacementPolicy
		completionMode        batchv1.CompletionMode
	}{
		{name: "empty", completions: new(int32(1)), parallel: new(int32(1)), backoffLimit: 6,
			replacement: batchv1.TerminatingOrFailed, completionMode: batchv1.NonIndexedCompletion},
		{name: "work queue", spec: batchv1.JobSpec{Parallelism: new(int32(3))}, parallel: new(int32(3)), backoffLimit: 6,
			replacement: batchv1.TerminatingOrFailed, completionMode: batchv1.NonIndexedCompletion},
		{name: "completions only", spec: batchv1.JobSpec{Completions: new(int32(5))}, completions: new(int32(5)), parallel: new(int32(1)),
			backoffLimit: 6, replacement: batchv1.TerminatingOrFailed, completionMode: batchv1.NonIndexedCompletion},
		{name: "pod failure policy", spec: batchv1.JobSpec{PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
			Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}},
		}}}}, completions: new(int32(1)), parallel: new(int32(1)), backoffLimit: 6, replacement: batchv1.Failed,
			completionMode: batchv1.NonIndexedCompletion},
		{name: "backoff per index", spec: batchv1.JobSpec{
			CompletionMode: new(batchv1.IndexedCompletion), Completions: new(int32(4)), BackoffLimitPerIndex: new(int32(1)),
		}, completions: new(int32(4)), parallel: new(int32(1)), backoffLimit: 1<<31 - 1,
			replacement: batchv1.TerminatingOrFailed, completionMode: batchv1.IndexedCompletion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &batchv1.Job{Spec: tc.spec}
			jobDefault(j)
			s := j.Spec
			eq := func(a, b *int32) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }
			if !eq(s.Completions, tc.completions) || !eq(s.Parallelism, tc.parallel) {
				t.Errorf("completions %v, parallelism %v; want %v, %v", s.Completions, s.Parallelism, tc.completions, tc.parallel)
			}
			if *s.BackoffLimit != tc.backoffLimit || *s.PodReplacementPolicy != tc.replacement || *s.CompletionMode != tc.completionMode {
				t.Errorf("backoffLimit %d, podReplacementPolicy %s, completionMode %s", *s.BackoffLimit, *s.PodReplacementPolicy, *s.CompletionMode)
			}
			if *s.Suspend || *s.ManualSelector {
				t.Errorf("suspend %v, manualSelector %v; want false, false", *s.Suspend, *s.ManualSelector)
			}
			if s.PodFailurePolicy != nil {
				for _, rule := range s.PodFailurePolicy.Rules {
					for _, c := range rule.OnPodConditions {
						if c.Status != corev1.ConditionTrue {
							t.Errorf("onPodConditions status = %q, want True", c.Status)
						}
					}
				}
			}
		})
	}

	// The job takes its template's labels when it has none of its own.
	j := &batchv1.Job{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "pi"}}}}}
	jobDefault(j)
	if j.Labels["app"] != "pi" {
		t.Errorf("job labels = %v, want the template's", j.Labels)
	}
}

func TestJobGeneratedSelector(t *testing.T) {
	j := batchTestJob(t, nil)
	wantLabels := map[string]string{
		"batch.kubernetes.io/controller-uid": string(batchTestUID), "controller-uid": string(batchTestUID),
		"batch.kubernetes.io/job-name": "pi", "job-name": "pi",
	}
	if !maps.Equal(j.Spec.Template.Labels, wantLabels) {
		t.Errorf("template labels = %v, want %v", j.Spec.Template.Labels, wantLabels)
	}
	wantSel := map[string]string{"batch.kubernetes.io/controller-uid": string(batchTestUID)}
	if j.Spec.Selector == nil || !maps.Equal(j.Spec.Selector.MatchLabels, wantSel) || len(j.Spec.Selector.MatchExpressions) > 0 {
		t.Errorf("selector = %v, want matchLabels %v", j.Spec.Selector, wantSel)
	}

	// A manual selector is left alone.
	manual := batchTestJob(t, func(j *batchv1.Job) {
		j.Spec.ManualSelector = new(true)
		j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
		j.Spec.Template.Labels = map[string]string{"app": "pi"}
	})
	if len(manual.Spec.Template.Labels) != 1 || len(manual.Spec.Selector.MatchLabels) != 1 {
		t.Errorf("manual selector job changed: labels %v, selector %v", manual.Spec.Template.Labels, manual.Spec.Selector)
	}
}

func TestJobValidate(t *testing.T) {
	r := groupTestResource(t, "batch", "jobs")
	for _, tc := range []struct {
		name   string
		before func(*batchv1.Job) // before defaulting and PrepareForCreate
		want   []string
	}{
		{name: "valid"},
		{name: "restartPolicy OnFailure", before: func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }},
		{name: "restartPolicy unset", before: func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "" },
			want: []string{"spec.template.spec.restartPolicy: Required value"}},
		{name: "restartPolicy Always", before: func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways },
			want: []string{"spec.template.spec.restartPolicy: Required value"}},
		{name: "conflicting job-name label", before: func(j *batchv1.Job) { j.Spec.Template.Labels = map[string]string{"job-name": "other"} },
			want: []string{"spec.template.metadata.labels[job-name]: Invalid value"}},
		{name: "manual selector", before: func(j *batchv1.Job) {
			j.Spec.ManualSelector = new(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
			j.Spec.Template.Labels = map[string]string{"app": "pi"}
		}},
		{name: "manual selector mismatch", before: func(j *batchv1.Job) {
			j.Spec.ManualSelector = new(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
		}, want: []string{"spec.template.metadata.labels: Invalid value"}},
		{name: "manual without selector", before: func(j *batchv1.Job) { j.Spec.ManualSelector = new(true) },
			want: []string{"spec.selector: Required value", "spec.template.metadata.labels: Invalid value"}},
		{name: "negative parallelism", before: func(j *batchv1.Job) { j.Spec.Parallelism = new(int32(-1)) },
			want: []string{"spec.parallelism: Invalid value"}},
		{name: "negative backoffLimit", before: func(j *batchv1.Job) { j.Spec.BackoffLimit = new(int32(-1)) },
			want: []string{"spec.backoffLimit: Invalid value"}},
		{name: "negative activeDeadlineSeconds", before: func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = new(int64(-1)) },
			want: []string{"spec.activeDeadlineSeconds: Invalid value"}},
		{name: "indexed without completions", before: func(j *batchv1.Job) {
			j.Spec.CompletionMode = new(batchv1.IndexedCompletion)
			j.Spec.Parallelism = new(int32(2))
		}, want: []string{"spec.completions: Required value"}},
		{name: "unknown completion mode", before: func(j *batchv1.Job) { j.Spec.CompletionMode = new(batchv1.CompletionMode("Sometimes")) },
			want: []string{"spec.completionMode: Unsupported value"}},
		{name: "indexed name too long for pod hostnames", before: func(j *batchv1.Job) {
			j.Name = "a-job-name-that-is-long-enough-to-overflow-a-dns-label-with-idx"
			j.Spec.CompletionMode = new(batchv1.IndexedCompletion)
			j.Spec.Completions = new(int32(10))
		}, want: []string{"metadata.name: Invalid value"}},
		{name: "backoffLimitPerIndex needs Indexed", before: func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = new(int32(1)) },
			want: []string{"spec.backoffLimitPerIndex: Invalid value"}},
		{name: "podFailurePolicy needs Never", before: func(j *batchv1.Job) {
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: batchv1.PodFailurePolicyActionFailJob,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
					Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42},
				},
			}}}
		}, want: []string{"spec.template.spec.restartPolicy: Invalid value"}},
		{name: "bad podFailurePolicy rule", before: func(j *batchv1.Job) {
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: "Explode",
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
					ContainerName: new("nope"), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{3, 0, 1},
				},
			}}}
		}, want: []string{
			"spec.podFailurePolicy.rules[0].action: Unsupported value",
			"spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value",
			"spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Invalid value",
			"spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value",
		}},
		{name: "podFailurePolicy rule without requirement", before: func(j *batchv1.Job) {
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionIgnore}}}
		}, want: []string{"spec.podFailurePolicy.rules[0]: Invalid value"}},
		{name: "podReplacementPolicy with podFailurePolicy", before: func(j *batchv1.Job) {
			j.Spec.PodReplacementPolicy = new(batchv1.TerminatingOrFailed)
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}},
			}}}
		}, want: []string{"spec.podReplacementPolicy: Unsupported value"}},
		{name: "successPolicy needs Indexed", before: func(j *batchv1.Job) {
			j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: new(int32(1))}}}
		}, want: []string{"spec.successPolicy: Invalid value"}},
		{name: "managedBy", before: func(j *batchv1.Job) { j.Spec.ManagedBy = new("kueue.x-k8s.io/multikueue") }},
		{name: "bad managedBy", before: func(j *batchv1.Job) { j.Spec.ManagedBy = new("kueue") },
			want: []string{"spec.managedBy: Invalid value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			groupTestCheckErrs(t, r.Validate(batchTestJob(t, tc.before)), tc.want)
		})
	}

	// Without a uid at PrepareForCreate no selector can be generated; the
	// job is rejected rather than stored with a selector matching nothing.
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "pi", Image: "perl:5.34"}},
		}}},
	}
	r.Default(j)
	r.PrepareForCreate(j)
	got := groupTestErrs(r.Validate(j))
	if !slices.Contains(got, "metadata.uid: Required value") || !slices.Contains(got, "spec.selector: Required value") {
		t.Errorf("job without uid: errors = %q, want metadata.uid and spec.selector required", got)
	}
}

func TestJobValidateUpdate(t *testing.T) {
	r := groupTestResource(t, "batch", "jobs")
	running := batchTestJob(t, nil)
	running.Status.StartTime = &metav1.Time{Time: time.Now()}
	suspended := batchTestJob(t, func(j *batchv1.Job) { j.Spec.Suspend = new(true) })
	indexed := batchTestJob(t, func(j *batchv1.Job) {
		j.Spec.CompletionMode = new(batchv1.IndexedCompletion)
		j.Spec.Completions = new(int32(3))
		j.Spec.Parallelism = new(int32(3))
	})
	for _, tc := range []struct {
		name   string
		old    *batchv1.Job
		mutate func(*batchv1.Job)
		want   []string
	}{
		{name: "unchanged", old: running},
		{name: "parallelism", old: running, mutate: func(j *batchv1.Job) { j.Spec.Parallelism = new(int32(4)) }},
		{name: "suspend", old: running, mutate: func(j *batchv1.Job) { j.Spec.Suspend = new(true) }},
		{name: "image", old: running, mutate: func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl:5.36" },
			want: []string{"spec.template: Invalid value"}},
		{name: "node selector while running", old: running, mutate: func(j *batchv1.Job) { j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"} },
			want: []string{"spec.template: Invalid value"}},
		{name: "node selector while suspended", old: suspended, mutate: func(j *batchv1.Job) { j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"} }},
		{name: "image while suspended", old: suspended, mutate: func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl:5.36" },
			want: []string{"spec.template: Invalid value"}},
		{name: "selector", old: running, mutate: func(j *batchv1.Job) {
			j.Spec.Selector.MatchLabels["job-name"] = "pi"
		}, want: []string{"spec.selector: Invalid value"}},
		{name: "completions of a non-indexed job", old: running, mutate: func(j *batchv1.Job) { j.Spec.Completions = new(int32(2)) },
			want: []string{"spec.completions: Invalid value"}},
		{name: "elastic indexed job", old: indexed, mutate: func(j *batchv1.Job) {
			j.Spec.Completions = new(int32(5))
			j.Spec.Parallelism = new(int32(5))
		}},
		{name: "indexed completions alone", old: indexed, mutate: func(j *batchv1.Job) { j.Spec.Completions = new(int32(5)) },
			want: []string{"spec.completions: Invalid value"}},
		{name: "completionMode", old: running, mutate: func(j *batchv1.Job) { j.Spec.CompletionMode = new(batchv1.IndexedCompletion) },
			want: []string{"spec.completionMode: Invalid value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := tc.old.DeepCopy()
			if tc.mutate != nil {
				tc.mutate(j)
			}
			groupTestCheckErrs(t, r.ValidateUpdate(j, tc.old), tc.want)
		})
	}
}

func TestJobTable(t *testing.T) {
	r := groupTestResource(t, "batch", "jobs")
	start := metav1.NewTime(time.Now().Add(-5 * 24 * time.Hour))
	done := metav1.NewTime(start.Add(45 * time.Second))
	complete := batchTestJob(t, func(j *batchv1.Job) { j.CreationTimestamp = start })
	complete.Status = batchv1.JobStatus{
		Succeeded: 1, StartTime: &start, CompletionTime: &done,
		Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}},
	}
	groupTestCheckTable(t, r.Table, complete, "Status,Completions,Duration,Age,Containers,Images,Selector",
		[]any{"Complete", "1/1", "45s", "5d", "pi", "perl:5.34", "batch.kubernetes.io/controller-uid=" + string(batchTestUID)})

	queue := batchTestJob(t, func(j *batchv1.Job) {
		j.CreationTimestamp = start
		j.Spec.Parallelism = new(int32(3))
	})
	queue.Status.StartTime = &start
	queue.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionFalse}}
	if got := r.Table.Row(queue)[:3]; got[0] != "Running" || got[1] != "0/1 of 3" || got[2] != "5d" {
		t.Errorf("running work-queue job row = %v", got)
	}
	if got := r.Fields(complete)["status.successful"]; got != "1" {
		t.Errorf("status.successful = %q, want 1", got)
	}
}

func TestCronJobDefault(t *testing.T) {
	cj := &batchv1.CronJob{}
	cronJobDefault(cj)
	s := cj.Spec
	if s.ConcurrencyPolicy != batchv1.AllowConcurrent || *s.Suspend || *s.SuccessfulJobsHistoryLimit != 3 || *s.FailedJobsHistoryLimit != 1 {
		t.Errorf("defaulted spec = %+v", s)
	}
	if s.JobTemplate.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways || s.JobTemplate.Spec.BackoffLimit != nil {
		t.Errorf("job template: pod defaults expected, job defaults not: %+v", s.JobTemplate.Spec)
	}
}

func batchTestCronJob(mutate func(*batchv1.CronJob)) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default"},
		Spec: batchv1.CronJobSpec{
			Schedule: "*/5 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyOnFailure,
				Containers:    []corev1.Container{{Name: "hello", Image: "busybox:1.36"}},
			}}}},
		},
	}
	cronJobDefault(cj)
	if mutate != nil {
		mutate(cj)
	}
	return cj
}

func TestCronJobValidate(t *testing.T) {
	r := groupTestResource(t, "batch", "cronjobs")
	for _, tc := range []struct {
		name   string
		mutate func(*batchv1.CronJob)
		want   []string
	}{
		{name: "valid"},
		{name: "macro", mutate: func(cj *batchv1.CronJob) { cj.Spec.Schedule = "@hourly" }},
		{name: "time zone", mutate: func(cj *batchv1.CronJob) { cj.Spec.TimeZone = new("Etc/UTC") }},
		{name: "no schedule", mutate: func(cj *batchv1.CronJob) { cj.Spec.Schedule = "" },
			want: []string{"spec.schedule: Required value"}},
		{name: "bad schedule", mutate: func(cj *batchv1.CronJob) { cj.Spec.Schedule = "61 * * * *" },
			want: []string{"spec.schedule: Invalid value"}},
		{name: "TZ in schedule", mutate: func(cj *batchv1.CronJob) { cj.Spec.Schedule = "TZ=UTC 0 * * * *" },
			want: []string{"spec.schedule: Invalid value"}},
		{name: "unknown time zone", mutate: func(cj *batchv1.CronJob) { cj.Spec.TimeZone = new("Mars/Olympus_Mons") },
			want: []string{"spec.timeZone: Invalid value"}},
		{name: "Local time zone", mutate: func(cj *batchv1.CronJob) { cj.Spec.TimeZone = new("Local") },
			want: []string{"spec.timeZone: Invalid value"}},
		{name: "bad concurrencyPolicy", mutate: func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = "Sometimes" },
			want: []string{"spec.concurrencyPolicy: Unsupported value"}},
		{name: "selector in job template", mutate: func(cj *batchv1.CronJob) {
			cj.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
		}, want: []string{"spec.jobTemplate.spec.selector: Invalid value"}},
		{name: "job template restartPolicy", mutate: func(cj *batchv1.CronJob) {
			cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		}, want: []string{"spec.jobTemplate.spec.template.spec.restartPolicy: Required value"}},
		{name: "negative history", mutate: func(cj *batchv1.CronJob) { cj.Spec.FailedJobsHistoryLimit = new(int32(-1)) },
			want: []string{"spec.failedJobsHistoryLimit: Invalid value"}},
		{name: "name too long", mutate: func(cj *batchv1.CronJob) { cj.Name = "a-cronjob-name-that-is-longer-than-fifty-two-characters" },
			want: []string{"metadata.name: Invalid value"}},
	} {
		t.Run(tc.name, func(t *testing.T) { groupTestCheckErrs(t, r.Validate(batchTestCronJob(tc.mutate)), tc.want) })
	}

	// Updates keep a legacy TZ schedule valid and skip the name limit.
	old := batchTestCronJob(func(cj *batchv1.CronJob) {
		cj.Name = "a-cronjob-name-that-is-longer-than-fifty-two-characters"
		cj.Spec.Schedule = "CRON_TZ=UTC 0 * * * *"
	})
	upd := old.DeepCopy()
	upd.Spec.Suspend = new(true)
	groupTestCheckErrs(t, r.ValidateUpdate(upd, old), nil)
}

func TestCronJobParseSchedule(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		wantErr string
	}{
		{"* * * * *", ""},
		{"*/15 0-6,18-23 1,15 jan-mar MON-FRI", ""},
		{"0 0 ? * sun", ""},
		{"5/10 * * * *", ""},
		{"@weekly", ""},
		{"@every 90s", ""},
		{"", "empty spec string"},
		{"* * * *", "expected exactly 5 fields, found 4: [* * * *]"},
		{"* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"},
		{"60 * * * *", "end of range (60) above maximum (59): 60"},
		{"* * 0 * *", "beginning of range (0) below minimum (1): 0"},
		{"* * * * 7", "end of range (7) above maximum (6): 7"},
		{"5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"},
		{"*/0 * * * *", "step of range should be a positive number: */0"},
		{"1-2-3 * * * *", "too many hyphens: 1-2-3"},
		{"x * * * *", `failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax`},
		{"@fortnightly", "unrecognized descriptor: @fortnightly"},
		{"@every forever", `failed to parse duration @every forever: time: invalid duration "forever"`},
	} {
		err := cronJobParseSchedule(tc.spec)
		var got string
		if err != nil {
			got = err.Error()
		}
		if got != tc.wantErr {
			t.Errorf("cronJobParseSchedule(%q) = %q, want %q", tc.spec, got, tc.wantErr)
		}
	}
}

func TestCronJobTable(t *testing.T) {
	r := groupTestResource(t, "batch", "cronjobs")
	created := metav1.NewTime(time.Now().Add(-5 * 24 * time.Hour))
	last := metav1.NewTime(time.Now().Add(-3 * time.Hour))
	cj := batchTestCronJob(func(cj *batchv1.CronJob) {
		cj.CreationTimestamp = created
		cj.Spec.TimeZone = new("Etc/UTC")
	})
	cj.Status = batchv1.CronJobStatus{LastScheduleTime: &last, Active: []corev1.ObjectReference{{Name: "hello-1"}}}
	groupTestCheckTable(t, r.Table, cj, "Schedule,Timezone,Suspend,Active,Last Schedule,Age,Containers,Images,Selector",
		[]any{"*/5 * * * *", "Etc/UTC", "False", int64(1), "3h", "5d", "hello", "busybox:1.36", "<none>"})
}
