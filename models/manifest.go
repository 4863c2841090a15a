package models

// manifest lists every file whospoke installs, with the size and sha256 of
// the copies in the project's shared models folder (its SHA256SUMS). A
// changed model is a new entry here, never a silent swap.
var manifest = []Model{
	{
		Name:        "segmentation",
		Description: "pyannote segmentation-3.0 (fp32): who speaks in each 10 s window",
		Main:        "pyannote-segmentation-3.0/model.onnx",
		Licence:     "pyannote-segmentation-3.0/LICENSE",
		LicenceName: "MIT",
		UsedBy:      "diarize, transcribe, serve (batch and live)",
		Files: []File{
			{"pyannote-segmentation-3.0/model.onnx", 5984569, "7d83bc89209d730ceef1a6f9c1082fd2c5fa1a137b50070632349ebfd9b5a2b7"},
			{"pyannote-segmentation-3.0/LICENSE", 1061, "14d7016ad68e7394d6e6b78d96cc2ae431c905287b89674cfdf021e79e62b8ba"},
		},
	},
	{
		Name:        "segmentation-int8",
		Description: "pyannote segmentation-3.0, int8-quantised: smaller, for one window at a time",
		Main:        "pyannote-segmentation-3.0/model.int8.onnx",
		Licence:     "pyannote-segmentation-3.0/LICENSE",
		LicenceName: "MIT",
		UsedBy:      "nothing by default (bench --segmentation-model)",
		Files: []File{
			{"pyannote-segmentation-3.0/model.int8.onnx", 1601765, "e91e8fe75c3df582b29e5023d579301e9e3eadef9bf082b40f245ca1f1a21a05"},
			{"pyannote-segmentation-3.0/LICENSE", 1061, "14d7016ad68e7394d6e6b78d96cc2ae431c905287b89674cfdf021e79e62b8ba"},
		},
	},
	{
		Name:        "embedding",
		Description: "3D-Speaker CAM++ zh-en: 192-d speaker embeddings",
		Main:        "3dspeaker-campplus-zh-en/model.onnx",
		Licence:     "3dspeaker-campplus-zh-en/LICENSE",
		LicenceName: "Apache-2.0",
		UsedBy:      "diarize, transcribe, serve (batch and live), voiceprints",
		Files: []File{
			{"3dspeaker-campplus-zh-en/model.onnx", 28302224, "72b4614c672f55758620815be9b1749c52a9746fb89ca2c5e52a8e67d834b8a1"},
			{"3dspeaker-campplus-zh-en/LICENSE", 11765, "74c4c7eca6e8ec4cb307ec4e553546a5cacb5e795a4840f0679ddaa3742163ca"},
		},
	},
	{
		Name:        "whisper-tiny.en",
		Description: "OpenAI Whisper tiny.en (int8): fast English transcription",
		Main:        "whisper-tiny.en",
		Licence:     "whisper-tiny.en/LICENSE",
		LicenceName: "MIT",
		UsedBy:      "transcribe (default), serve: transcription and live transcription",
		Files: []File{
			{"whisper-tiny.en/encoder.int8.onnx", 12911733, "091e3ae23d9c2e374de8167153622e08ee24e116c1d9861dc4dea9558458a58f"},
			{"whisper-tiny.en/decoder.int8.onnx", 28592862, "9ced37eca2f98c059f566ce5b05863d8841c083351c41c6364b5816fa4a76c2f"},
			// The same weights with a variable-length audio axis (docs/MODELS.md):
			// whisper loads these instead of the two above, and live
			// transcription encodes short clips in a short window.
			{"whisper-tiny.en/encoder.dyn.int8.onnx", 12897895, "9ec83e437da7a82ccf2ff18ea12a5fd3488e4c2db7cae23d484f5f23ba27e6d8"},
			{"whisper-tiny.en/decoder.dyn.int8.onnx", 28593080, "8184c9f9bb61700c91059f7123a2691bcc079d2bc43592fbc4794993e6172b80"},
			{"whisper-tiny.en/tokens.txt", 865790, "fd8c3424b17961b00cea3ae9f076e576fbe24b21874bce5880e7d1e6465de1e1"},
			{"whisper-tiny.en/tokenizer.json", 2128466, "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"},
			{"whisper-tiny.en/config.json", 12824, "99bdfccf78b5bb5e0670e26bbbd98f4acd6056b7d1cc9267847ce9f6eaca0ae4"},
			{"whisper-tiny.en/mel-filters-80x201.f32", 64320, "4f2701b1d287d74a0dc9871026e9519d98cb76426615f2539b0d151a0ae4ec2e"},
			{"whisper-tiny.en/LICENSE", 1063, "b5d65a59060e68c4ff940e1eddfa6f94b2d68fdf58ed7f4dd57721c997e35e9d"},
		},
	},
	{
		Name:        "whisper-base",
		Description: "OpenAI Whisper base (int8): transcription in 99 languages",
		Main:        "whisper-base",
		Licence:     "whisper-base/LICENSE",
		LicenceName: "MIT",
		UsedBy:      "transcribe --model base, serve: transcriptionConfig model base",
		Files: []File{
			{"whisper-base/encoder.int8.onnx", 29084408, "36691bc8f832159ff92d9f6a6b3d012fad10c7595f2b8969c2d8d6af25a3866a"},
			{"whisper-base/decoder.int8.onnx", 49217067, "35cffbbd550d411f6caf7ea39dda82c18f0c1c915111fd9d7d5bfbde46ae3b74"},
			{"whisper-base/tokens.txt", 846961, "1b833358ada7b568005597c53f9e16afd4fbb8114cf5e695361fb48e26639fab"},
			{"whisper-base/tokenizer.json", 3930462, "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4"},
			{"whisper-base/config.json", 12903, "7e86b268fc87629625b746b0238b5367e70fac99d105ca482b838b0cbf780476"},
			{"whisper-base/mel-filters-80x201.f32", 64320, "4f2701b1d287d74a0dc9871026e9519d98cb76426615f2539b0d151a0ae4ec2e"},
			{"whisper-base/LICENSE", 1063, "b5d65a59060e68c4ff940e1eddfa6f94b2d68fdf58ed7f4dd57721c997e35e9d"},
		},
	},
	{
		Name:        "silero-vad",
		Description: "Silero VAD v6.2: streaming voice activity detection",
		Main:        "silero-vad-v6.2/silero_vad.onnx",
		Licence:     "silero-vad-v6.2/LICENSE",
		LicenceName: "MIT",
		UsedBy:      "serve: live transcription (Live transcription: true, /v3/ws, /v1/realtime); diarize: speech the segmentation misses",
		Files: []File{
			{"silero-vad-v6.2/silero_vad.onnx", 2327524, "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"},
			{"silero-vad-v6.2/LICENSE", 1075, "2e63e9a38b6e8fc0c7bc37ce174caca1862870856c6daf5697cfb785e925520b"},
		},
	},
	{
		// Installed with the models by default: 1 MB, and the `make run`
		// demo and end-to-end checks diarize it.
		Name:        "test-audio",
		Description: "30 s two-speaker sample with reference RTTM and transcript (test fixture)",
		Fixture:     true,
		Main:        "test-audio/pyannote-sample",
		Licence:     "test-audio/pyannote-sample/LICENSE.pyannote-audio",
		LicenceName: "MIT",
		UsedBy:      "make run, the tests",
		Files: []File{
			{"test-audio/pyannote-sample/sample.wav", 960104, "c319b4abca767b124e41432d364fd7df006cb26bb79d09326c487d606a134e6e"},
			{"test-audio/pyannote-sample/sample.rttm", 596, "d78fe62c69d8e6dcbb42c26adfce83faccb374c5a1e6d987fe37f85f1c173c87"},
			{"test-audio/pyannote-sample/sample.stm", 788, "f861f3004927e1c4429199f9695bfd252def75d7d5e4bdf735d3d85fd4a667f7"},
			{"test-audio/pyannote-sample/LICENSE.pyannote-audio", 1061, "a3b53644a76e70e289b25271b119c0a1aadaaf0db7a16225fb494fdc0e36c32a"},
		},
	},
}
