"""Vision Transformer: patch embedding, learned positions, pre-norm self-attention blocks and a linear head over all tokens."""

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 64
DEPTH = 3
GRID = 4
HEADS = 4
EXPANSION = 2
ACTIVATION = nn.GELU
NORM = nn.LayerNorm


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class Attention(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.heads = HEADS
        self.qkv = nn.Linear(channels, channels * 3)
        self.proj = nn.Linear(channels, channels)

    def forward(self, x):
        batch, tokens, channels = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.heads, channels // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        weights = F.softmax(q @ k.transpose(-2, -1) * (channels // self.heads) ** -0.5, dim=-1)
        out = (weights @ v).transpose(1, 2).reshape(batch, tokens, channels)
        return self.proj(out)


class TransformerBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.norm1 = NORM(channels)
        self.attn = Attention(channels)
        self.norm2 = NORM(channels)
        self.mlp = nn.Sequential(nn.Linear(channels, channels * EXPANSION), ACTIVATION(), nn.Linear(channels * EXPANSION, channels))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        in_channels = in_shape[1]
        num_classes = out_shape[0]
        patch = max(1, min(in_shape[2], in_shape[3]) // GRID)
        tokens = (in_shape[2] // patch) * (in_shape[3] // patch)
        channels = WIDTH
        self.stem = nn.Conv2d(in_channels, channels, patch, patch)
        self.position = nn.Parameter(torch.zeros(1, tokens, channels))
        self.body = nn.Sequential(*[TransformerBlock(channels) for index in range(DEPTH)])
        self.norm = NORM(channels)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(prm['dropout']), nn.Linear(tokens * channels, num_classes))

    def forward(self, x):
        x = self.stem(x).flatten(2).transpose(1, 2) + self.position
        x = self.norm(self.body(x))
        return self.head(x)

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = nn.CrossEntropyLoss().to(self.device)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            inputs, labels = inputs.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criteria(self(inputs), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 3)
            self.optimizer.step()
