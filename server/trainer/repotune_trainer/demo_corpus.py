"""Fixed code snippets the DEMO model's BPE tokenizer is learnt from.

They only need to contain the words and punctuation runs common in source code, so that the demo tokenizer splits
code into sensible pieces. Changing this text changes the demo tokenizer (and so every demo model): do it on purpose.
"""

_PYTHON = '''
import os
import sys
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """A small model: embedding, encoder layers and a classification head."""

    def __init__(self, vocab_size: int, hidden_size: int = 256, num_layers: int = 2, dropout: float = 0.1):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        self.layers = nn.ModuleList([nn.Linear(hidden_size, hidden_size) for _ in range(num_layers)])
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, 2)

    def forward(self, input_ids: torch.Tensor, labels: Optional[torch.Tensor] = None) -> Dict[str, Any]:
        x = self.embedding(input_ids)
        for layer in self.layers:
            x = F.relu(layer(self.dropout(x)))
        logits = self.head(x.mean(dim=1))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits, labels)
        return {"logits": logits, "loss": loss}


def load_config(path: str) -> dict:
    with open(path, "r", encoding="utf-8") as f:
        return json.load(f)


def main(argv: List[str]) -> int:
    if len(argv) < 2:
        print("usage: main.py CONFIG", file=sys.stderr)
        return 2
    config = load_config(argv[1])
    for key, value in sorted(config.items()):
        print(f"{key} = {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
'''

_TYPESCRIPT = '''
import * as fs from "node:fs";
import * as path from "node:path";

export interface Options {
  readonly name: string;
  readonly timeoutMs?: number;
  readonly retries: number;
}

export class Client {
  private readonly pending = new Map<number, (value: unknown) => void>();
  private nextId = 1;

  constructor(private readonly options: Options) {}

  async request<T>(method: string, params: unknown): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${method} timed out`)), this.options.timeoutMs ?? 1000);
      this.pending.set(id, (value) => {
        clearTimeout(timer);
        resolve(value as T);
      });
    });
  }
}

export function readJson(file: string): Record<string, unknown> {
  const text = fs.readFileSync(path.resolve(file), "utf8");
  return JSON.parse(text) as Record<string, unknown>;
}

export const isString = (value: unknown): value is string => typeof value === "string";
'''

_JAVASCRIPT = '''
const express = require("express");
const app = express();

app.get("/api/items/:id", async (req, res) => {
  try {
    const item = await db.items.findOne({ where: { id: req.params.id } });
    if (!item) {
      return res.status(404).json({ error: "not found" });
    }
    res.json(item);
  } catch (err) {
    console.error(err);
    res.status(500).json({ error: "internal error" });
  }
});

module.exports = { app };
'''

_GO = '''
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

type Server struct {
	addr    string
	handler http.Handler
	timeout time.Duration
}

func NewServer(addr string, handler http.Handler) *Server {
	return &Server{addr: addr, handler: handler, timeout: 10 * time.Second}
}

func (s *Server) Run(ctx context.Context) error {
	srv := &http.Server{Addr: s.addr, Handler: s.handler}
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
'''

_RUST = '''
use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    pub count: usize,
}

impl Entry {
    pub fn new(name: &str) -> Self {
        Self { name: name.to_string(), count: 0 }
    }
}

pub fn count_words(path: &str) -> io::Result<HashMap<String, usize>> {
    let mut text = String::new();
    fs::File::open(path)?.read_to_string(&mut text)?;
    let mut counts = HashMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word.to_lowercase()).or_insert(0) += 1;
    }
    Ok(counts)
}
'''

_JAVA_C = '''
public final class Main {
    public static void main(String[] args) throws Exception {
        for (int i = 0; i < args.length; i++) {
            System.out.println(args[i]);
        }
    }
}

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE\\n", argv[0]);
        return 1;
    }
    return 0;
}
'''

# Each snippet is fed several times so that its common pieces clear the BPE trainer's min_frequency.
SNIPPETS: list[str] = [_PYTHON, _TYPESCRIPT, _JAVASCRIPT, _GO, _RUST, _JAVA_C] * 3
