"""ConvNeXt: patchify stem, large-kernel depthwise blocks with channel LayerNorm, inverted MLP and layer scale."""

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 16
DEPTH = 2
STAGES = 3
KERNEL = 7
EXPANSION = 4
ACTIVATION = nn.GELU
POOL = nn.AdaptiveAvgPool2d


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, KERNEL, 1, KERNEL // 2, groups=channels)
        self.norm = LayerNorm2d(channels)
        self.expand = nn.Conv2d(channels, channels * EXPANSION, 1)
        self.act = ACTIVATION()
        self.project = nn.Conv2d(channels * EXPANSION, channels, 1)
        self.scale = nn.Parameter(torch.ones(1, channels, 1, 1))

    def forward(self, x):
        return x + self.scale * self.project(self.act(self.expand(self.norm(self.depthwise(x)))))


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        in_channels = in_shape[1]
        num_classes = out_shape[0]
        size = min(in_shape[2], in_shape[3])
        stride = 2 if size >= 16 else 1
        size = size // stride
        channels = WIDTH
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, stride, stride), LayerNorm2d(channels))
        layers = []
        for stage in range(STAGES):
            width = WIDTH * 2 ** stage
            if stage > 0:
                stride = 2 if size >= 4 else 1
                size = size // stride
                layers.append(LayerNorm2d(channels))
                layers.append(nn.Conv2d(channels, width, stride, stride))
                channels = width
            for index in range(DEPTH):
                layers.append(ConvNeXtBlock(channels))
        layers.append(LayerNorm2d(channels))
        self.body = nn.Sequential(*layers)
        self.pool = POOL(1)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(prm['dropout']), nn.Linear(channels, num_classes))

    def forward(self, x):
        x = self.body(self.stem(x))
        return self.head(self.pool(x))

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
