/** Small, realistic source files per language for the syntax-span and docstring tests (one per grammar). */

export const PYTHON_SAMPLE = `import torch
from torch import nn


class TinyNet(nn.Module):
    """A two-layer perceptron with a residual connection."""

    def __init__(self, dim: int, hidden: int = 64):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        if self.training:
            h = nn.functional.dropout(h, p=0.1, training=True)
        return x + self.fc2(h)


# Sum of squares of the values, skipping None.
def sum_squares(values):
    total = 0
    for v in values:
        if v is None:
            continue
        total += v * v
    return total


def mean(values):
    """Arithmetic mean; 0 for an empty list."""
    return sum(values) / len(values) if values else 0
`;

export const TYPESCRIPT_SAMPLE = `import { readFileSync } from 'node:fs';

/** Parses a config file into key/value pairs. */
export function parseConfig(path: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(path, 'utf8').split('\\n')) {
    const [key, value] = line.split('=', 2);
    if (key && value !== undefined) out.set(key.trim(), value.trim());
  }
  return out;
}

// A counter that never goes below zero.
export class Counter {
  private n = 0;

  increment(by: number = 1): number {
    this.n = Math.max(0, this.n + by);
    return this.n;
  }
}

const double = (x: number) => {
  return x * 2;
};
console.log(double(parseConfig('a.cfg').size), Math.min(1, 2));
`;

export const GO_SAMPLE = `package store

import (
\t"errors"
\t"fmt"
)

// Get returns the value stored under key.
func (s *Store) Get(key string) (string, error) {
\tv, ok := s.items[key]
\tif !ok {
\t\treturn "", errors.New(fmt.Sprintf("no key %q", key))
\t}
\treturn v, nil
}

func Sum(values []int) int {
\ttotal := 0
\tfor _, v := range values {
\t\ttotal += v
\t}
\treturn total
}
`;

export const RUST_SAMPLE = `use std::collections::HashMap;

/// Counts the words of a text.
pub fn word_counts(text: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word.to_lowercase()).or_insert(0) += 1;
    }
    counts
}

/// A point in the plane.
impl Point {
    pub fn norm(&self) -> f64 {
        (self.x * self.x + self.y * self.y).sqrt()
    }
}

fn main() {
    let counts = word_counts("a b a");
    println!("{:?} {}", counts, max(1, 2));
}
`;

export const JAVA_SAMPLE = `class Greeter {
    /** Greets someone by name. */
    String greet(String name) {
        return String.format("Hello, %s!", name);
    }
}
`;
