// Generated from runtime/manifest.schema.json (the one rule book, read by Python too) by
// `node web/tools/sync-schema.mjs`; test/trust.test.mjs fails when the two differ.

export const MANIFEST_SCHEMA = {
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://edgepack.dev/schema/manifest-v1.json",
  "title": "edgepack package manifest, format versions 1 (tabular) and 2 (tensor)",
  "description": "Read by the Python runtime, the converters and web/ (edgepack-web). Change it only with a new format_version. Version 1: a row of features; version 2: named tensors (docs/package-format.md).",
  "type": "object",
  "required": [
    "format",
    "format_version",
    "model",
    "source",
    "inputs",
    "outputs",
    "artifacts",
    "golden",
    "tolerance_profiles",
    "parity"
  ],
  "properties": {
    "format": {
      "const": "edgepack"
    },
    "format_version": {
      "enum": [
        1,
        2
      ]
    },
    "model": {
      "type": "object",
      "required": [
        "name",
        "version",
        "task",
        "created"
      ],
      "properties": {
        "name": {
          "type": "string",
          "minLength": 1
        },
        "version": {
          "type": "string",
          "minLength": 1
        },
        "task": {
          "enum": [
            "classification",
            "regression",
            "tensor"
          ]
        },
        "created": {
          "type": "string",
          "format": "date-time"
        },
        "description": {
          "type": "string"
        },
        "author": {
          "type": "string"
        },
        "license": {
          "type": "string"
        }
      }
    },
    "source": {
      "type": "object",
      "required": [
        "framework",
        "framework_version",
        "estimator",
        "sha256"
      ],
      "properties": {
        "framework": {
          "type": "string"
        },
        "framework_version": {
          "type": "string"
        },
        "estimator": {
          "type": "string"
        },
        "summary": {
          "type": "string"
        },
        "family": {
          "type": "string"
        },
        "file": {
          "type": "string"
        },
        "sha256": {
          "type": "string",
          "pattern": "^[0-9a-f]{64}$"
        }
      }
    },
    "inputs": {
      "type": "object",
      "properties": {
        "features": {
          "type": "array",
          "minItems": 1,
          "items": {
            "type": "object",
            "required": [
              "name",
              "type",
              "nullable",
              "missing_rate"
            ],
            "properties": {
              "name": {
                "type": "string",
                "minLength": 1
              },
              "type": {
                "enum": [
                  "float",
                  "int",
                  "bool",
                  "category",
                  "text"
                ],
                "description": "text: any string, split into words by a text vectorizer in the model"
              },
              "nullable": {
                "type": "boolean"
              },
              "categories": {
                "type": "array",
                "items": {
                  "type": "string"
                }
              },
              "unknown": {
                "enum": [
                  "error",
                  "ignore"
                ]
              },
              "min": {
                "type": "number"
              },
              "max": {
                "type": "number"
              },
              "mean": {
                "type": "number"
              },
              "std": {
                "type": "number"
              },
              "missing_rate": {
                "type": "number",
                "minimum": 0,
                "maximum": 1
              },
              "frequencies": {
                "type": "object",
                "additionalProperties": {
                  "type": "number"
                }
              }
            },
            "if": {
              "properties": {
                "type": {
                  "const": "category"
                }
              }
            },
            "then": {
              "required": [
                "categories",
                "unknown"
              ]
            }
          }
        },
        "tensors": {
          "type": "array",
          "minItems": 1,
          "items": {
            "type": "object",
            "required": [
              "name",
              "dtype",
              "shape"
            ],
            "properties": {
              "name": {
                "type": "string",
                "minLength": 1
              },
              "dtype": {
                "enum": [
                  "float32",
                  "float64",
                  "int64",
                  "int32",
                  "uint8",
                  "bool"
                ]
              },
              "shape": {
                "type": "array",
                "minItems": 1,
                "items": {
                  "type": [
                    "integer",
                    "null"
                  ],
                  "minimum": 1
                },
                "description": "shape[0] is the batch: null for any"
              },
              "layout": {
                "enum": [
                  "NHWC",
                  "NCHW",
                  "NWC",
                  "NCW",
                  "NC",
                  "N"
                ]
              },
              "kind": {
                "enum": [
                  "probabilities",
                  "scores",
                  "tensor"
                ]
              },
              "image": {
                "type": "object",
                "description": "how a picture becomes this tensor: resize to size [height, width], channel order, then (pixel * scale - mean) / std per channel",
                "required": [
                  "size",
                  "channels",
                  "scale",
                  "mean",
                  "std"
                ],
                "properties": {
                  "size": {
                    "type": "array",
                    "items": {
                      "type": "integer",
                      "minimum": 1
                    },
                    "minItems": 2,
                    "maxItems": 2
                  },
                  "channels": {
                    "enum": [
                      "RGB",
                      "BGR",
                      "L"
                    ]
                  },
                  "scale": {
                    "type": "number"
                  },
                  "mean": {
                    "type": "array",
                    "items": {
                      "type": "number"
                    }
                  },
                  "std": {
                    "type": "array",
                    "items": {
                      "type": "number",
                      "exclusiveMinimum": 0
                    }
                  }
                }
              }
            }
          }
        }
      }
    },
    "outputs": {
      "type": "object",
      "required": [
        "names"
      ],
      "properties": {
        "names": {
          "type": "array",
          "items": {
            "type": "string"
          }
        },
        "classes": {
          "type": "array",
          "items": {
            "type": [
              "string",
              "integer",
              "boolean"
            ]
          }
        },
        "shapes": {
          "type": "object"
        },
        "value_scale": {
          "type": "number",
          "exclusiveMinimum": 0
        },
        "tensors": {
          "type": "array",
          "minItems": 1,
          "items": {
            "type": "object",
            "required": [
              "name",
              "dtype",
              "shape"
            ],
            "properties": {
              "name": {
                "type": "string",
                "minLength": 1
              },
              "dtype": {
                "enum": [
                  "float32",
                  "float64",
                  "int64",
                  "int32",
                  "uint8",
                  "bool"
                ]
              },
              "shape": {
                "type": "array",
                "minItems": 1,
                "items": {
                  "type": [
                    "integer",
                    "null"
                  ],
                  "minimum": 1
                },
                "description": "shape[0] is the batch: null for any"
              },
              "layout": {
                "enum": [
                  "NHWC",
                  "NCHW",
                  "NWC",
                  "NCW",
                  "NC",
                  "N"
                ]
              },
              "kind": {
                "enum": [
                  "probabilities",
                  "scores",
                  "tensor"
                ]
              },
              "image": {
                "type": "object",
                "description": "how a picture becomes this tensor: resize to size [height, width], channel order, then (pixel * scale - mean) / std per channel",
                "required": [
                  "size",
                  "channels",
                  "scale",
                  "mean",
                  "std"
                ],
                "properties": {
                  "size": {
                    "type": "array",
                    "items": {
                      "type": "integer",
                      "minimum": 1
                    },
                    "minItems": 2,
                    "maxItems": 2
                  },
                  "channels": {
                    "enum": [
                      "RGB",
                      "BGR",
                      "L"
                    ]
                  },
                  "scale": {
                    "type": "number"
                  },
                  "mean": {
                    "type": "array",
                    "items": {
                      "type": "number"
                    }
                  },
                  "std": {
                    "type": "array",
                    "items": {
                      "type": "number",
                      "exclusiveMinimum": 0
                    }
                  }
                }
              }
            }
          }
        },
        "top_k": {
          "type": "integer",
          "minimum": 1
        }
      }
    },
    "artifacts": {
      "type": "array",
      "minItems": 1,
      "items": {
        "type": "object",
        "required": [
          "id",
          "format",
          "file",
          "sha256",
          "size",
          "precision",
          "converter",
          "inputs",
          "outputs"
        ],
        "properties": {
          "id": {
            "type": "string",
            "pattern": "^[A-Za-z0-9_.-]+$"
          },
          "format": {
            "enum": [
              "onnx",
              "tflite",
              "tfjs",
              "coreml",
              "c",
              "js"
            ]
          },
          "file": {
            "type": "string",
            "minLength": 1
          },
          "files": {
            "type": "array",
            "items": {
              "type": "object",
              "required": [
                "file",
                "sha256",
                "size"
              ]
            }
          },
          "sha256": {
            "type": "string",
            "pattern": "^[0-9a-f]{64}$"
          },
          "size": {
            "type": "integer",
            "minimum": 0
          },
          "precision": {
            "type": "string"
          },
          "quantization": {
            "type": "string"
          },
          "variant_of": {
            "type": "string",
            "description": "id of the float32 artifact this quantized variant was made from"
          },
          "latency": {
            "type": "object",
            "description": "measured by the build in the format's first runner: medians of single-row and batch calls",
            "required": [
              "runtime",
              "single_row_ms",
              "batch_ms",
              "batch_rows"
            ],
            "properties": {
              "runtime": {
                "type": "string"
              },
              "single_row_ms": {
                "type": "number",
                "minimum": 0
              },
              "batch_ms": {
                "type": "number",
                "minimum": 0
              },
              "batch_rows": {
                "type": "integer",
                "minimum": 1
              },
              "runs": {
                "type": "object"
              }
            }
          },
          "default": {
            "type": "boolean"
          },
          "opset": {
            "type": "object"
          },
          "spec_version": {
            "type": [
              "string",
              "integer"
            ]
          },
          "min_ios": {
            "type": "string",
            "description": "Core ML: the first iOS release that runs the artifact's specification version"
          },
          "min_macos": {
            "type": "string",
            "description": "Core ML: the first macOS release that runs the artifact's specification version"
          },
          "bundle": {
            "type": "string",
            "description": "a directory artifact (Core ML .mlpackage): its folder in the package; `file` is its model spec"
          },
          "converter": {
            "type": "object",
            "required": [
              "name",
              "version"
            ]
          },
          "signature": {
            "type": "string",
            "description": "TFLite: the signature whose input and output names the entry uses"
          },
          "batch": {
            "type": "integer",
            "minimum": 1,
            "description": "a fixed batch: the artifact takes exactly this many rows per call"
          },
          "inputs": {
            "type": "array",
            "items": {
              "type": "object",
              "required": [
                "name",
                "dtype"
              ],
              "properties": {
                "name": {
                  "type": "string"
                },
                "features": {
                  "type": "array",
                  "items": {
                    "type": "string"
                  },
                  "minItems": 1
                },
                "dtype": {
                  "enum": [
                    "float32",
                    "float64",
                    "int64",
                    "int32",
                    "uint8",
                    "int8",
                    "bool",
                    "string",
                    "float64-parts"
                  ],
                  "description": "float64-parts: a float32 tensor [N, features, 3] carrying each value x as hi = float32(x), mid = float32(x - hi), lo = float32(x - hi - mid)"
                },
                "input": {
                  "type": "string",
                  "description": "version 2: the package input this artifact tensor takes"
                },
                "lowercase": {
                  "type": "boolean",
                  "description": "a string input that takes its text as Python's str.lower gives it"
                },
                "layout": {
                  "enum": [
                    "NHWC",
                    "NCHW",
                    "NWC",
                    "NCW",
                    "NC",
                    "N"
                  ]
                },
                "quantization": {
                  "type": "object",
                  "required": [
                    "scale",
                    "zero_point"
                  ],
                  "properties": {
                    "scale": {
                      "type": "number",
                      "exclusiveMinimum": 0
                    },
                    "zero_point": {
                      "type": "integer"
                    }
                  },
                  "description": "version 2, an int8/uint8 input: q = round(x / scale) + zero_point"
                }
              }
            }
          },
          "outputs": {
            "type": "object",
            "additionalProperties": {
              "type": "string"
            }
          },
          "output_quantization": {
            "type": "object",
            "description": "version 2: int8/uint8 outputs by artifact tensor name, x = (q - zero_point) * scale",
            "additionalProperties": {
              "type": "object",
              "required": [
                "dtype",
                "scale",
                "zero_point"
              ],
              "properties": {
                "dtype": {
                  "enum": [
                    "int8",
                    "uint8"
                  ]
                },
                "scale": {
                  "type": "number",
                  "exclusiveMinimum": 0
                },
                "zero_point": {
                  "type": "integer"
                }
              }
            }
          }
        }
      }
    },
    "golden": {
      "type": "object",
      "required": [
        "file",
        "sha256",
        "rows"
      ],
      "properties": {
        "file": {
          "type": "string"
        },
        "sha256": {
          "type": "string",
          "pattern": "^[0-9a-f]{64}$"
        },
        "rows": {
          "type": "integer",
          "minimum": 1
        }
      }
    },
    "reference_profile": {
      "type": "object",
      "description": "the drift reference (edgepack build): binned features and outputs of the reference data, counted by runtime/profile.py; devices count their windows in the same bins",
      "required": [
        "file",
        "sha256",
        "size"
      ],
      "properties": {
        "file": {
          "type": "string"
        },
        "sha256": {
          "type": "string",
          "pattern": "^[0-9a-f]{64}$"
        },
        "size": {
          "type": "integer",
          "minimum": 0
        }
      }
    },
    "tolerance_profiles": {
      "type": "object",
      "additionalProperties": {
        "type": "object",
        "properties": {
          "min_label_agreement": {
            "type": "number",
            "minimum": 0,
            "maximum": 1
          },
          "max_probability_error": {
            "type": "number",
            "minimum": 0
          },
          "max_value_error": {
            "type": "number",
            "minimum": 0
          },
          "max_auc_change": {
            "type": "number",
            "minimum": 0
          },
          "max_abs_error": {
            "type": "number",
            "minimum": 0
          },
          "max_rel_error": {
            "type": "number",
            "minimum": 0
          },
          "outputs": {
            "type": "object",
            "additionalProperties": {
              "type": "object",
              "properties": {
                "atol": {
                  "type": "number",
                  "minimum": 0
                },
                "rtol": {
                  "type": "number",
                  "minimum": 0
                },
                "statistic": {
                  "enum": [
                    "elementwise",
                    "max",
                    "mean",
                    "quantile"
                  ]
                },
                "q": {
                  "type": "number",
                  "minimum": 0,
                  "maximum": 1
                }
              }
            }
          }
        }
      }
    },
    "parity": {
      "type": "array",
      "items": {
        "type": "object",
        "required": [
          "artifact",
          "runtime",
          "data",
          "rows",
          "passed",
          "when",
          "metrics",
          "profile"
        ],
        "properties": {
          "artifact": {
            "type": "string"
          },
          "runtime": {
            "type": "string"
          },
          "data": {
            "type": "string"
          },
          "rows": {
            "type": "integer"
          },
          "passed": {
            "type": "boolean"
          },
          "when": {
            "type": "string"
          },
          "profile": {
            "type": [
              "string",
              "object"
            ]
          },
          "metrics": {
            "type": "object"
          },
          "status": {
            "enum": [
              "pass",
              "fail",
              "error",
              "unavailable"
            ]
          },
          "failures": {
            "type": "array"
          },
          "reason": {
            "type": "string"
          }
        }
      }
    },
    "statistics": {
      "type": "object"
    },
    "quantization": {
      "type": "object",
      "description": "what edgepack build --quantize tried: every variant with its status (kept, dropped, not applicable, not offered, build failed) and the reason",
      "required": [
        "requested",
        "calibration_rows",
        "holdout_rows",
        "variants"
      ],
      "properties": {
        "requested": {
          "type": "string"
        },
        "calibration_rows": {
          "type": "integer",
          "minimum": 0
        },
        "holdout_rows": {
          "type": "integer",
          "minimum": 0
        },
        "interpolated_rows": {
          "type": "integer",
          "minimum": 0
        },
        "variants": {
          "type": "array",
          "items": {
            "type": "object",
            "required": [
              "id",
              "format",
              "mode",
              "status",
              "reason"
            ],
            "properties": {
              "id": {
                "type": "string"
              },
              "format": {
                "type": "string"
              },
              "mode": {
                "type": "string"
              },
              "status": {
                "enum": [
                  "kept",
                  "dropped",
                  "passed",
                  "not applicable",
                  "not offered",
                  "build failed"
                ]
              },
              "reason": {
                "type": "string"
              },
              "size": {
                "type": "integer"
              },
              "size_ratio": {
                "type": "number"
              },
              "precision": {
                "type": "string"
              },
              "base": {
                "type": "string"
              },
              "metrics": {
                "type": "object"
              }
            }
          }
        }
      }
    }
  },
  "if": {
    "properties": {
      "format_version": {
        "const": 1
      }
    }
  },
  "then": {
    "properties": {
      "inputs": {
        "required": [
          "features"
        ]
      },
      "outputs": {
        "properties": {
          "names": {
            "type": "array",
            "items": {
              "enum": [
                "label",
                "probabilities",
                "value"
              ]
            }
          }
        }
      },
      "model": {
        "properties": {
          "task": {
            "enum": [
              "classification",
              "regression"
            ]
          }
        }
      },
      "artifacts": {
        "items": {
          "properties": {
            "inputs": {
              "items": {
                "required": [
                  "name",
                  "features",
                  "dtype"
                ]
              }
            }
          }
        }
      }
    }
  },
  "else": {
    "properties": {
      "inputs": {
        "required": [
          "tensors"
        ]
      },
      "outputs": {
        "required": [
          "names",
          "tensors"
        ]
      },
      "artifacts": {
        "items": {
          "properties": {
            "inputs": {
              "items": {
                "required": [
                  "name",
                  "input",
                  "dtype"
                ]
              }
            }
          }
        }
      }
    }
  }
};
